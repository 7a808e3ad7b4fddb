"""Text guidance: action descriptions, body-part lexicon -> k_gt, frozen text encoder + cache.

- :mod:`crossglg.text.descriptions`: the ``crossglg-descriptions/1`` file format (shipped in ``data/``).
- :mod:`crossglg.text.lexicon`: ``k_gt(global_text, name) -> (25,)`` joint importance.
- :mod:`crossglg.text.quality`: checks behind ``crossglg-train descriptions check``.
- :mod:`crossglg.text.encoder`: ``text_features(descriptions, encoder, cache)`` (torch imported lazily).
- :mod:`crossglg.text.generate`: LLM descriptions through an OpenAI-compatible endpoint.
"""
