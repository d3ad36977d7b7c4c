"""The five defences, measured from evidence and tied to the case's stories.

One module per control (``phishing``, ``mfa``, ``segmentation``, ``patching``, ``coverage``),
each a pure function from plain values (``model.posture``) to a ``ControlResult``; ``steps``
says which defence would have stopped which step of a story; ``run`` reads the inputs and the
case and assembles the ``PostureResult``.
"""
