"""Learning views (the paper's section on view generators): a pixel-wise invertible flow g
(a learned colour space), trained adversarially against InfoNCE critics (unsupervised),
with view classifiers on a labelled subset (semi-supervised) or with classifiers only
(supervised); the learned g is then frozen and evaluated like any other pair of views.

The flow g itself is a view (`infomin.views.flows`); this package holds the game that
trains it and the comparison. May import: data, views, objectives, models, evaluate,
experiments and the shared helpers.
"""
