"""Words that say nothing as a topic label or theme name on their own (issue #14's list and
the ones seen in runs). The labeller keeps its own list (taxonomy.naming.GENERIC_LABELS); the
tests check it covers this one, and that no label of a run is one of these alone.
bench/quality.py's label table counts the same."""

GENERIC_WORDS = frozenset(
    """
    AI Image Images Feature Features Memory Human Humans Phrase Feedback Instruction
    Instructions Energy Symbolic Visual 3D Survey Domain-specific Retrieval-Augmented Data
    Learning Model Models Language Text Training System Systems Embedding Embeddings Overview
    Review Literature Documents Words English Corpora Content Responses Examples Step Output
    Interaction Scenarios Simulations Tool Tools Communication Computation Evaluate Modeling
    Detection Classification Matching Discovery Codes Coding
    """.split()
) | {"deep learning", "high throughput", "billions of parameters"}
