"""The candidate record: competences, blocs and the title, from evaluation outcomes."""
