namespace TrainGuard.Integrity;

internal static class AssemblyMarker
{
}
