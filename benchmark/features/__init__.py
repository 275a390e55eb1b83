"""Features of images for the Inception-score family: the ImageNet Inception network and the dataset-trained
classifiers, the scores read from them, and the two caches that make their work happen once.

- One feature pass per run (``shared.py``): ``inception_score`` and ``fid`` need the same network outputs of
  the same samples (class probabilities for the score, pool features for the distance), and so do
  ``classifier_score`` and ``fid_classifier``. The first metric of a run to ask draws the samples (one draw
  for all four metrics, the run's stream "metric/image_features/samples") and runs the network once over
  them; the result waits in ``RunContext.run_cache`` for the others. StudioGAN's
  ``generate_images_and_stack_features`` returns features and probabilities from one pass the same way.
- Test-split statistics on disk (``cache.py``): what the metrics need of the test split (feature mean and
  covariance, the split's own score, the classifier's accuracy) depends only on the dataset and the network,
  not on the model, so it is computed once and kept under ``$BENCH_HOME/cache/features/`` by a content key.

Why not torch-fidelity (evaluated at 0.4.0; it installs beside this torch without pulling another): its
``FeatureExtractorInceptionV3`` is public and even loads pytorch-fid's weight file (the same state-dict
layout), but (1) its cache is keyed by a name the caller picks, stores every image's features rather than
statistics, and writes straight to the final path, so two runner processes could read a half-written file:
the content-keyed, atomic statistics cache would be ours anyway; (2) it takes uint8 images and resizes them
as TensorFlow 1 did, which would move every IS/FID number of the suites for a reason other than the change
at hand (a faithful-to-TF resize is worth doing, as its own versioned change); (3) the classifier twins would
need extractors registered in its global registry, uint8 and three channels only, while the stacked-digit
classifier reads each channel apart. So both networks share one small code path here, and the Inception
network is pytorch-fid's (its public ``FIDInception*`` blocks on torchvision's public ``inception_v3``).
"""
