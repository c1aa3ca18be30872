namespace TrainGuard.Scanning;
internal static class AssemblyMarker
{
}
