"""What uses runs: the tour, the glossary (`ann explain`), export, the benchmark runner,
experiments, the HTTP server (`ann serve`) and the NumPy networks trained by hand (scratch). They
sit above the API: they train, load and report runs through it, and nothing below imports them."""
