namespace TrainGuard.Checkpoints;

/// <summary>Placeholder until the first real type lands (delete it then).</summary>
internal static class AssemblyMarker;
