namespace TrainGuard.Checkpoints.Tests;

public class PlaceholderTests
{
    [Fact]
    public void Checkpoints_assembly_loads() => Assert.Equal("TrainGuard.Checkpoints", typeof(TrainGuard.Checkpoints.AssemblyMarker).Assembly.GetName().Name);
}
