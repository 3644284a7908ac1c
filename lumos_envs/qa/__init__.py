"""The QA domain's offline world: corpora, retrieval indexes and readers behind lumos/QA-v0.

- `corpus`: `Document`/`Corpus` (pages of paragraphs, `Paragraph(Title-k)` ids, handle parsing).
- `world`: the bundled procedurally generated fictional world and its articles.
- `index`: BM25 page search (KnowledgeQuery) and dense paragraph search (ParagraphRetrieve,
  pages embedded on demand and cached on disk).
- `reader`: the extractive reader, the offline default of the QA tool; `llm`: the LLM reader
  (LUMOS's QA prompt, its own time limit); `readers`: the `reader=` choice by string.
"""
