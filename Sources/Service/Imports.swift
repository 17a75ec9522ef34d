// The Service module sees Rules and Evaluator; C libraries stay behind their own files.
@_exported import Evaluator
@_exported import Rules
