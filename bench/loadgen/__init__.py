"""The parts of the load benchmark, `bench/load.py` (its docstring says what a run does).

- `common`: timing helpers, the server processes, seeding through the REST API;
- `worker`: one client process (many Socket.IO clients on one asyncio loop);
- `fleet`: the client processes of one server, driven phase by phase, and the ramp and soak.
"""
