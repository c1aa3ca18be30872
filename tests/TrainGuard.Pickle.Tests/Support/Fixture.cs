namespace TrainGuard.Pickle.Tests.Support;

public static class Fixture
{
    public static byte[] Read(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", name));
}
