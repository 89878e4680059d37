"""Video sessions: the rules and the WebRTC side, with no server code in it.

- ``states``: the session and participant state machines (every transition, typed errors)
- ``sessions``: the service (scheduling, waiting room, admission, relay rules), ``rooms``: live room state in
  the Broker, ``errors``: refusals with stable codes, ``wire``: HTTP and socket.io shapes
- ``turn``: time-limited TURN REST credentials for coturn
- ``messages``: the signal format and the channel Protocol, ``loopback``: an in-process channel pair
- ``peer`` + ``media``: an aiortc call peer with a synthetic camera and microphone

Modules are imported directly (``from signaling.peer import CallPeer``): the server never loads aiortc.
"""

__all__: list[str] = []
