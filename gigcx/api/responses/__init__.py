"""What each REST route answers, for the OpenAPI document (`/api/v1/openapi.json`).

One module per area: `common` (parts several answers share), `brands`, `cases`, `money`, `trust`
and `notify`; each view names its models in its route's `responses=`.

These models describe the views' output; they are not applied to it (flask-openapi3 validates
responses only when asked to, and it is not). Timestamps are ISO 8601 text in UTC, or null.
The request bodies, and the few answers a service builds through a model, are in `gigcx.schemas`.
"""
