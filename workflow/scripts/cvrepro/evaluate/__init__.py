"""The evaluation stage, after training and before the report: metrics, per-class scores,
BatchNorm modes for shift sweeps, feature probes (SVM, softmax, gradient-descent linear models)
and activation maps."""
