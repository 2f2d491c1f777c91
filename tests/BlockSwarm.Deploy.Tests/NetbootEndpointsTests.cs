using System.Net;
using System.Net.Http.Json;
using BlockSwarm.Deploy.Api;
using BlockSwarm.Deploy.Server;
using BlockSwarm.Engine.Storage;
using BlockSwarm.Testing;

namespace BlockSwarm.Deploy.Tests;

/// <summary>
/// <c>serve --netboot DIR</c>: the iPXE script names the server as the client reached it, a machine already imaged boots
/// its disk, only DIR's own files are served.
/// </summary>
public sealed class NetbootEndpointsTests
{
    [Fact]
    public async Task The_ipxe_script_names_the_server_and_only_the_directorys_files_are_served()
    {
        var ct = TestContext.Current.CancellationToken;
        using var dir = new TempDirectory("netboot-http");
        var (img, torrent) = DeployEndToEndTests.Ext4(dir);
        var netboot = Directory.CreateDirectory(dir.File("netboot")).FullName;
        var kernel = new byte[300_000];
        new Random(3).NextBytes(kernel);
        await File.WriteAllBytesAsync(Path.Combine(netboot, "vmlinuz"), kernel, ct);
        await File.WriteAllTextAsync(Path.Combine(netboot, "initrd.img"), "initrd", ct);
        await File.WriteAllTextAsync(Path.Combine(netboot, ".hidden"), "secret", ct);
        await File.WriteAllTextAsync(dir.File("outside.txt"), "outside", ct);
        Directory.CreateDirectory(Path.Combine(netboot, "pxelinux.cfg"));

        await using var storage = DeviceStorage.Open(img, torrent, writable: false);
        await using var server = new DeployServer(torrent, storage, new FileInfo(img).Length, new ServeOptions
        {
            Listen = IPAddress.Loopback, HttpPort = 0, BitTorrentPort = 0, NetbootDirectory = netboot,
            NetbootKernelArgs = "blockswarm.target=/dev/sda blockswarm.after=reboot",
        });
        await server.StartAsync(ct);
        using var http = new HttpClient { BaseAddress = server.HttpAddress };

        var self = server.HttpAddress!.ToString();
        // DHCP's boot file URL cannot carry the MAC: the first answer asks the same URL again with it.
        Assert.Equal($"#!ipxe\nchain {self}netboot/boot.ipxe?mac=${{net0/mac:hexhyp}} || goto failed\nexit\n:failed\necho BlockSwarm: could not reach {self} ; retrying in 10 s\nsleep 10\nchain {self}netboot/boot.ipxe\n",
            await http.GetStringAsync("/netboot/boot.ipxe", ct));
        const string Mac = "52-54-00-12-34-56";
        var script = await http.GetStringAsync($"/netboot/boot.ipxe?mac={Mac}", ct);
        Assert.StartsWith("#!ipxe\n", script, StringComparison.Ordinal);
        // The kernel command line names this server and its key: the booted client pins it (blockswarm.server_key=).
        Assert.Contains($"kernel {self}netboot/vmlinuz initrd=initrd.img blockswarm.server={self.TrimEnd('/')} blockswarm.server_key={server.Identity.Fingerprint} blockswarm.id=${{net0/mac:hexhyp}} blockswarm.target=/dev/sda blockswarm.after=reboot || goto failed\n", script, StringComparison.Ordinal);
        Assert.Contains($"initrd --name initrd.img {self}netboot/initrd.img || goto failed\n", script, StringComparison.Ordinal);
        Assert.Contains("goto load", script, StringComparison.Ordinal); // a failed load is retried, not a silent stop

        // Once this machine reported its deployment done, booting it from the network again boots its disk instead of
        // imaging it again (blockswarm.after=reboot with the network first in the boot order); other machines still image.
        string token = await TrustTestKit.EnrolAsync(http, server.HttpAddress!, Mac, ct);
        using (var report = await TrustTestKit.ReportAsync(http, server.HttpAddress!, Mac, token, new ClientReport { Hostname = "bs-" + Mac, State = "done", Progress = 1 }, ct))
            report.EnsureSuccessStatusCode();
        Assert.Equal($"#!ipxe\necho BlockSwarm: {Mac} already has {torrent.Name}; booting from the local disk\nsanboot --no-describe --drive 0x80 || exit\n",
            await http.GetStringAsync($"/netboot/boot.ipxe?mac={Mac}", ct));
        Assert.StartsWith("#!ipxe\n# Written by", await http.GetStringAsync("/netboot/boot.ipxe?mac=52-54-00-12-34-57", ct), StringComparison.Ordinal);
        Assert.StartsWith("#!ipxe\n# Written by", await http.GetStringAsync("/netboot/boot.ipxe?mac=not-a-mac", ct), StringComparison.Ordinal);

        Assert.Equal(kernel, await http.GetByteArrayAsync("/netboot/vmlinuz", ct));
        // A range, as iPXE and firmware may ask.
        using var ranged = new HttpRequestMessage(HttpMethod.Get, "/netboot/vmlinuz");
        ranged.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(1000, 1999);
        using var part = await http.SendAsync(ranged, ct);
        Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
        Assert.Equal(kernel.AsSpan(1000, 1000).ToArray(), await part.Content.ReadAsByteArrayAsync(ct));

        foreach (var path in new[] { "/netboot/.hidden", "/netboot/..%2Foutside.txt", "/netboot/%2E%2E%2Foutside.txt", "/netboot/pxelinux.cfg", "/netboot/missing" })
        {
            using var r = await http.GetAsync(path, ct);
            Assert.True(r.StatusCode == HttpStatusCode.NotFound, $"{path}: {r.StatusCode}");
        }
    }

    [Fact]
    public async Task With_tls_the_boot_files_come_over_plain_http_and_the_kernel_line_names_the_https_server_and_its_key()
    {
        var ct = TestContext.Current.CancellationToken;
        using var dir = new TempDirectory("netboot-tls");
        var (img, torrent) = DeployEndToEndTests.Ext4(dir);
        var netboot = Directory.CreateDirectory(dir.File("netboot")).FullName;
        await File.WriteAllTextAsync(Path.Combine(netboot, "vmlinuz"), "kernel", ct);
        await File.WriteAllTextAsync(Path.Combine(netboot, "initrd.img"), "initrd", ct);
        using var identity = Security.ServerIdentity.Generate();
        using var cert = identity.CreateTlsCertificate([], [IPAddress.Loopback], DateTimeOffset.UtcNow);
        var (server, storage) = await TrustTestKit.StartAsync(img, torrent, new ServeOptions { NetbootDirectory = netboot, Identity = identity, TlsCertificate = cert }, ct);
        await using var _ = storage;
        await using var __ = server;
        Assert.Equal("https", server.HttpAddress!.Scheme);
        var plain = server.NetbootAddress!;
        Assert.Equal("http", plain.Scheme);
        using var http = new HttpClient();
        var script = await http.GetStringAsync(new Uri(plain, "/netboot/boot.ipxe?mac=52-54-00-12-34-56"), ct);
        Assert.Contains($"kernel {plain}netboot/vmlinuz initrd=initrd.img blockswarm.server=https://127.0.0.1:{server.HttpAddress.Port} blockswarm.server_key={identity.Fingerprint} ", script, StringComparison.Ordinal);
        Assert.Equal("kernel", await http.GetStringAsync(new Uri(plain, "/netboot/vmlinuz"), ct));
        // Only the boot files: the job, the torrent, the API and the dashboard are served over TLS alone.
        foreach (var path in new[] { "/api/job", "/job.torrent", "/", "/api/clients", "/announce" })
        {
            using var r = await http.GetAsync(new Uri(plain, path), ct);
            Assert.True(r.StatusCode == HttpStatusCode.NotFound, $"{path}: {r.StatusCode}");
        }
    }

    [Fact]
    public void Kernel_arguments_must_be_one_line()
    {
        Assert.Throws<ArgumentException>(() => NetbootEndpoints.IpxeScript("http://10.0.0.1:8080/", "a\nchain http://evil/", "job"));
    }
}
