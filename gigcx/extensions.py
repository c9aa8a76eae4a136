"""Extension objects, created unbound at import and bound to the app in `create_app`."""
from flask_socketio import SocketIO

socketio = SocketIO()
