"""Text: corpora, the text training job, fine-tuning, the Generator, the copy check and WikiText."""
