"""BERT (Devlin et al. 2018; seed 000): WordPiece tokenizer, embeddings, bidirectional encoder, MLM/NSP heads."""
