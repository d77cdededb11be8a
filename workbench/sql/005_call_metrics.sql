-- Call analytics computed once at import (issue 5), from the utterances: the sentiment of each
-- utterance (VADER compound, -1..1), and per call the turns, words per role, the agent's share
-- of the words, the duration when timestamps exist, the customer's mean sentiment, and a
-- resolution signal (NULL when the call says neither).
ALTER TABLE utterances ADD COLUMN sentiment DOUBLE;
ALTER TABLE calls ADD COLUMN turns INTEGER;
ALTER TABLE calls ADD COLUMN agent_words INTEGER;
ALTER TABLE calls ADD COLUMN customer_words INTEGER;
ALTER TABLE calls ADD COLUMN talk_ratio DOUBLE;
ALTER TABLE calls ADD COLUMN duration_seconds DOUBLE;
ALTER TABLE calls ADD COLUMN sentiment DOUBLE;
ALTER TABLE calls ADD COLUMN resolved BOOLEAN;
