namespace TrainGuard.Ledger;
internal static class AssemblyMarker
{
}
