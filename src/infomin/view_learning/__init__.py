"""Learning views (the paper's section on view generators): a pixel-wise invertible flow g
(a learned colour space), trained adversarially against InfoNCE critics (unsupervised),
with view classifiers on a labelled subset (semi-supervised) or with classifiers only
(supervised); the learned g is then frozen and evaluated like any other pair of views.
"""
