"""Privacy: what the providers learn about a learner (:mod:`.sharing`), how long the tool keeps what learners did
(:mod:`.retention`), and one person's data, exported or erased (:mod:`.subject`)."""
