"""The service layer: the only code that changes data, in the unit of work its caller opens
(`gigcx.uow`), which commits and then emits the events the services gathered."""
