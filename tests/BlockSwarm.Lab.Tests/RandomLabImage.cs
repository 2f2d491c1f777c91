using System.Security.Cryptography;
using System.Text.Json.Nodes;
using BlockSwarm.Testing;

namespace BlockSwarm.Lab.Tests;

/// <summary>A random image of the lab tests (every byte sent: <c>--map all</c>), its torrent, and what <c>inspect</c> says of it.</summary>
internal sealed record RandomLabImage(string Image, string Torrent, long Bytes, long PieceLength, long TotalLength)
{
    public static RandomLabImage Make(TempDirectory dir, int mib)
    {
        var image = dir.File("source.img");
        var data = new byte[mib << 20];
        RandomNumberGenerator.Fill(data);
        File.WriteAllBytes(image, data);
        var torrent = dir.File("source.torrent");
        Tool.Run(LabNetwork.DotnetHost, RepoPaths.CliDll, "create", "--source", image, "--map", "all", "--output", torrent);
        var info = JsonNode.Parse(Tool.Run(LabNetwork.DotnetHost, RepoPaths.CliDll, "inspect", torrent, "--json").StdOut)!;
        return new RandomLabImage(image, torrent, data.Length, (long)info["pieceLength"]!, (long)info["totalLength"]!);
    }
}
