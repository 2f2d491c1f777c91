using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace BlockSwarm.Deploy.Server;

/// <summary>
/// What a PXE-booted client loads from <c>serve --netboot DIR</c> (the output of packaging/netboot/build-netboot.sh):
/// <c>/netboot/boot.ipxe</c>, an iPXE script written per request so that it names this server as the client reaches
/// it (its Host header) and, once the client has named its MAC, boots a machine this server already imaged from its
/// disk, and the files of DIR (<c>vmlinuz</c>, <c>initrd.img</c>, …) over HTTP, which iPXE loads far
/// faster than TFTP. DHCP (or dnsmasq's proxy-DHCP beside the site's own DHCP server) points iPXE at the script.
/// </summary>
public static partial class NetbootEndpoints
{
    /// <summary>The kernel command line the script passes besides <c>blockswarm.server=</c>, unless --netboot-args says otherwise.</summary>
    public const string DefaultKernelArgs = "blockswarm.target=auto blockswarm.after=poweroff console=tty0 console=ttyS0,115200n8";

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex FileName();

    [GeneratedRegex("^[0-9a-f]{2}(-[0-9a-f]{2}){5}$")]
    private static partial Regex MacHex();

    [GeneratedRegex("^sha256:[A-Za-z0-9_-]{43}$")]
    private static partial Regex FingerprintText();

    /// <param name="isImaged">Whether the client with this id (the MAC as iPXE's <c>${net0/mac:hexhyp}</c>) already deployed this job.</param>
    /// <param name="deployServer">
    /// The URL the booted client deploys from (<c>blockswarm.server=</c>) as this request reached the server; null: the
    /// script's own server. With TLS it differs: the boot files come over plain HTTP, the job over https.
    /// </param>
    /// <param name="serverKey">The fingerprint of the server's signing key, put on the kernel command line (<c>blockswarm.server_key=</c>).</param>
    public static void MapNetboot(this IEndpointRouteBuilder endpoints, string directory, string kernelArgs, string jobName, Func<string, bool> isImaged,
        Func<HttpContext, string>? deployServer = null, string? serverKey = null)
    {
        CheckKernelArgs(kernelArgs);
        var root = Path.GetFullPath(directory);
        endpoints.MapGet("/netboot/boot.ipxe", (HttpContext ctx) =>
        {
            // First the client names itself (DHCP's boot file URL cannot carry its MAC); then a machine this server
            // already imaged boots its disk instead of imaging itself again, which is what happens after
            // blockswarm.after=reboot when the network comes first in the boot order.
            string? mac = ctx.Request.Query["mac"];
            string server = ServerUrl(ctx);
            string script = mac is null ? NameYourselfScript(server)
                : MacHex().IsMatch(mac) && isImaged(mac) ? LocalBootScript(mac, jobName)
                : IpxeScript(server, kernelArgs, jobName, deployServer?.Invoke(ctx), serverKey);
            return Results.Text(script, "text/plain; charset=utf-8");
        });
        endpoints.MapGet("/netboot/{file}", (string file) =>
        {
            // Only plain files directly in DIR: no "..", no sub-directories, no hidden files.
            if (!FileName().IsMatch(file) || file.Contains("..", StringComparison.Ordinal)) return Results.NotFound();
            var path = Path.Combine(root, file);
            return File.Exists(path) ? Results.File(path, "application/octet-stream", enableRangeProcessing: true) : Results.NotFound();
        });
    }

    /// <summary>The server as this client reached it: <c>http://HOST:PORT/</c>.</summary>
    public static string ServerUrl(HttpContext ctx) =>
        string.Create(CultureInfo.InvariantCulture, $"{ctx.Request.Scheme}://{ctx.Request.Host}/");

    /// <summary>Asks the same URL again with the client's MAC address, so that the answer can depend on the machine.</summary>
    public static string NameYourselfScript(string server) =>
        $"#!ipxe\nchain {server}netboot/boot.ipxe?mac=${{net0/mac:hexhyp}} || goto failed\nexit\n:failed\necho BlockSwarm: could not reach {server} ; retrying in 10 s\nsleep 10\nchain {server}netboot/boot.ipxe\n";

    /// <summary>A machine this server already imaged: boot the first disk (BIOS), else leave iPXE so the firmware boots the next entry (UEFI).</summary>
    public static string LocalBootScript(string mac, string jobName) =>
        $"#!ipxe\necho BlockSwarm: {mac} already has {Printable(jobName)}; booting from the local disk\nsanboot --no-describe --drive 0x80 || exit\n";

    /// <summary>
    /// Loads the kernel and initramfs from this server and boots them with the server's URL (and its key's fingerprint,
    /// which the client then pins) on the command line. A failed load is said on the console and retried every 10 s:
    /// never a silent hang in front of a classroom.
    /// </summary>
    public static string IpxeScript(string server, string kernelArgs, string jobName, string? deployServer = null, string? serverKey = null)
    {
        CheckKernelArgs(kernelArgs);
        deployServer ??= server.TrimEnd('/');
        CheckKernelArgs(deployServer);
        string pin = "";
        if (serverKey is not null)
        {
            if (!FingerprintText().IsMatch(serverKey)) throw new ArgumentException("not a key fingerprint", nameof(serverKey));
            pin = $" blockswarm.server_key={serverKey}";
        }
        var sb = new StringBuilder();
        sb.Append("#!ipxe\n");
        sb.Append("# Written by blockswarm serve --netboot for each client.\n");
        sb.Append(CultureInfo.InvariantCulture, $"echo BlockSwarm: {Printable(jobName)} from {server}\n");
        sb.Append(":load\n");
        sb.Append(CultureInfo.InvariantCulture, $"kernel {server}netboot/vmlinuz initrd=initrd.img blockswarm.server={deployServer}{pin} blockswarm.id=${{net0/mac:hexhyp}} {kernelArgs} || goto failed\n");
        sb.Append(CultureInfo.InvariantCulture, $"initrd --name initrd.img {server}netboot/initrd.img || goto failed\n");
        sb.Append("boot || goto failed\n");
        sb.Append(":failed\n");
        sb.Append(CultureInfo.InvariantCulture, $"echo BlockSwarm: could not load the boot files from {server}netboot/ ; retrying in 10 s\n");
        sb.Append("sleep 10\n");
        sb.Append("goto load\n");
        return sb.ToString();
    }

    /// <summary>A script line break inside the kernel arguments would add commands of its own.</summary>
    private static void CheckKernelArgs(string kernelArgs)
    {
        if (kernelArgs.Any(c => char.IsControl(c) || char.IsWhiteSpace(c) && c != ' '))
            throw new ArgumentException("kernel arguments must be one line", nameof(kernelArgs));
    }

    /// <summary>The job's name without control characters (it is echoed inside a script).</summary>
    private static string Printable(string jobName) => string.Concat(jobName.Where(c => !char.IsControl(c)));
}
