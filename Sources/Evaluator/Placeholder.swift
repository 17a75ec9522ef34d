public enum EvaluatorPlaceholder {}
