"""The multimodal domain's parts: image specs and their rendering, the knowledge table, the
question executor, the VQA back-ends (learned, oracle, transformers) and safe image loading.

`lumos_envs/envs/multimodal.py` puts them together as `lumos/Multimodal-v0`.
"""
