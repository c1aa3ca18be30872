namespace TrainGuard.Formats;
internal static class AssemblyMarker
{
}
