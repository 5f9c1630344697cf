"""The knowledge base: facts, answers, UI strings, crisis words and the question matcher."""
