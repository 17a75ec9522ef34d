// Evaluator's public API speaks in Rules' model types (Policy, Timestamp, FeatureValue, …).
@_exported public import Rules
