"""Plain-Python building blocks of the integration core.

Nothing here touches the ORM directly: the models call these modules for
encryption, signatures, retry timing and outbound HTTP, so each concern can
be read and tested on its own.
"""
