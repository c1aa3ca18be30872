using System.IO.Compression;
using TrainGuard.Formats.Tests.Support;
using TrainGuard.Formats.Torch;
using TrainGuard.Formats.Zip;

namespace TrainGuard.Formats.Tests.Torch;

/// <summary>
/// Which members torch.load reads (<see cref="TorchZipLayout"/>): the root of the first entry, names looked up as
/// miniz does. The fixtures in tests/fixtures/malicious/bypass/ were checked against torch's own reader when made.
/// </summary>
public class TorchZipLayoutTests
{
    private static readonly byte[] Bytes = [1, 2, 3];

    private static ZipReader Zip(params string[] names) =>
        ZipReader.Open(new MemoryStream(ZipBuilder.SystemZip(names.Select(n => (n, Bytes, CompressionLevel.NoCompression)).ToArray())), ZipLimits.Default);

    [Fact]
    public void The_root_is_the_folder_of_the_first_central_directory_entry()
    {
        using var zip = Zip("model/data.pkl", "other/data.pkl", "model/version");
        var layout = TorchZipLayout.For(zip.Entries);

        Assert.Equal("model", layout.Root);
        Assert.Equal("model/data.pkl", layout.Locate("data.pkl")!.Name);
    }

    [Fact]
    public void A_first_entry_outside_a_folder_leaves_no_root_and_nothing_is_found()
    {
        using var zip = Zip("data.pkl", "archive/data.pkl");
        var layout = TorchZipLayout.For(zip.Entries);

        Assert.Null(layout.Root);
        Assert.Null(layout.Locate("data.pkl"));
    }

    [Fact]
    public void Names_are_looked_up_ignoring_ascii_case_only()
    {
        using var zip = Zip("archive/version", "archive/DATA.PKL", "archive/data/0");
        var layout = TorchZipLayout.For(zip.Entries);

        Assert.Equal("archive/DATA.PKL", layout.Locate("data.pkl")!.Name);
        Assert.Equal("archive/data/0", layout.Locate("data/0")!.Name);
        Assert.Null(layout.Locate("data/1"));
        Assert.Single(layout.Candidates("data.pkl"));
    }

    [Fact]
    public void Missing_data_pkl_is_not_found()
    {
        using var zip = Zip("archive/version", "archive/data/0");
        Assert.Null(TorchZipLayout.For(zip.Entries).Locate("data.pkl"));
    }

    [Fact]
    public void Duplicates_are_all_candidates_and_the_lookup_returns_one_of_them()
    {
        using var zip = Zip("archive/data.pkl", "archive/version", "archive/data.pkl", "archive/Data.pkl");
        var layout = TorchZipLayout.For(zip.Entries);

        Assert.Equal(3, layout.Candidates("data.pkl").Count);
        Assert.Contains(layout.Locate("data.pkl"), layout.Candidates("data.pkl"));
    }

    [Theory]
    [InlineData("a", "A", 0)]
    [InlineData("a", "b", -1)]
    [InlineData("ab", "a", 1)]
    [InlineData("Z", "_", 1)] // miniz lowers A-Z only: 'Z' compares as 'z' (122), after '_' (95)
    public void Names_compare_as_miniz_compares_them(string left, string right, int expectedSign) =>
        Assert.Equal(expectedSign, Math.Sign(TorchZipLayout.Compare(System.Text.Encoding.ASCII.GetBytes(left), System.Text.Encoding.ASCII.GetBytes(right))));
}
