"""Character-level language models (char-rnn): corpora, vocabulary, RNN/GRU/LSTM, training, sampling, evaluation."""
