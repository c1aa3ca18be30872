namespace TrainGuard.Access;

/// <summary>The access check cannot give an answer (a policy path that matches nothing): an error, never "clean".</summary>
public sealed class AccessException(string message, Exception? inner = null) : Exception(message, inner);
