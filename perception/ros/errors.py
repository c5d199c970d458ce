"""The one error type of the message codecs."""


class MessageError(ValueError):
    """A ROS message that cannot be decoded; the text names the message type, the field and the expected form."""
