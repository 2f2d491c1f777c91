using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace BlockSwarm.Testing;

/// <summary>
/// The .deb as it ships and a clean Debian root to install it in, for the packaging tests and for any test that wants
/// the installed program (a VM or PXE test runs <c>&lt;root&gt;/usr/bin/blockswarm serve</c>):
/// <list type="bullet">
/// <item><see cref="BuildDeb"/>: packaging/build-deb.sh over the NativeAOT publish (artifacts/cli-aot-*/), once per process.</item>
/// <item><see cref="RootTarball"/>: <c>mmdebstrap --variant=minbase bookworm</c> from this machine's Debian mirrors
/// (its apt sources), cached as <c>$XDG_CACHE_HOME/blockswarm/debroot-bookworm-YYYY-Www.tar</c> (a new one each ISO week).</item>
/// <item><see cref="NewRoot"/>: that tarball unpacked into a directory; <see cref="InRoot"/> runs a shell script chrooted
/// there with /proc and /dev mounted in a private mount namespace (nothing to unmount afterwards, whatever happens).</item>
/// <item><see cref="InstalledRoot"/>: a root with systemd, man-db and the package installed by apt (Depends fetched from the mirror), made once
/// per .deb: cached on disk by the .deb's hash (<c>debroot-installed-HASH/</c>), so every test process of a run shares it.
/// Treat it as read-only; make a <see cref="NewRoot"/> to change things.</item>
/// </list>
/// Needs root, dpkg-dev, help2man, mmdebstrap and unshare, and the network to the mirror for the first tarball and
/// for apt-get install (libssl3 is not in minbase).
/// </summary>
public static class DebianPackageFixture
{
    public const string Suite = "bookworm";

    private static readonly Lazy<string> s_deb = new(() => Build(version: null));
    private static readonly Lazy<string> s_tarball = new(MakeRootTarball);
    private static readonly Lazy<string> s_installed = new(MakeInstalledRoot);
    private static readonly object s_buildLock = new();

    /// <summary>What <see cref="Requires"/> must find: call it first (skip, or fail under CI=true).</summary>
    public static void RequireTools() => Requires.All(Need.Root, "dpkg-deb", "dpkg-shlibdeps", "help2man", "objcopy", "mmdebstrap", "unshare", "chroot");

    /// <summary>The package of this checkout's version (blockswarm_1.0.0-1_amd64.deb), built once per process.</summary>
    public static string BuildDeb()
    {
        RequireTools();
        return s_deb.Value;
    }

    /// <summary>Another build of the same binary with <paramref name="version"/> as the package version (upgrade tests).</summary>
    public static string BuildDeb(string version)
    {
        RequireTools();
        return Build(version);
    }

    /// <summary>The cached minbase root of <see cref="Suite"/> as a tarball (made by mmdebstrap on first use each week).</summary>
    public static string RootTarball()
    {
        RequireTools();
        return s_tarball.Value;
    }

    /// <summary>A fresh clean root unpacked into <paramref name="directory"/> (made if missing), with the host's resolv.conf.</summary>
    public static string NewRoot(string directory)
    {
        string tarball = RootTarball();
        Directory.CreateDirectory(directory);
        Tool.Run("tar", ["-xf", tarball, "-C", directory, "--numeric-owner"], timeout: TimeSpan.FromMinutes(3));
        // apt inside needs the host's name servers; mmdebstrap leaves none behind.
        string resolv = Path.Combine(directory, "etc", "resolv.conf");
        File.Delete(resolv);
        if (File.Exists("/etc/resolv.conf")) File.Copy("/etc/resolv.conf", resolv);
        return directory;
    }

    /// <summary>
    /// A root where <see cref="BuildDeb()"/> is installed with apt: <c>&lt;root&gt;/usr/bin/blockswarm</c>,
    /// <c>&lt;root&gt;/usr/lib/systemd/system/blockswarm-serve.service</c>, <c>&lt;root&gt;/etc/blockswarm/serve.conf</c>.
    /// Shared: do not change it.
    /// </summary>
    public static string InstalledRoot()
    {
        RequireTools();
        return s_installed.Value;
    }

    /// <summary>Runs <paramref name="script"/> with /bin/sh chrooted in <paramref name="root"/> (apt non-interactive, /proc and /dev mounted).</summary>
    public static ProcessResult InRoot(string root, string script, bool check = true, TimeSpan? timeout = null)
    {
        // A private mount namespace: the mounts vanish with the process, so a failed or killed test leaves none behind.
        const string Enter = "set -e; r=$1; shift; mount -t proc proc \"$r/proc\"; mount --rbind /dev \"$r/dev\"; " +
                             "exec chroot \"$r\" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 " +
                             "DEBIAN_FRONTEND=noninteractive /bin/sh -c \"$1\"";
        return Tool.Run("unshare", ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", Enter, "enter", root, script],
            check: check, timeout: timeout ?? TimeSpan.FromMinutes(5));
    }

    /// <summary>Copies <paramref name="deb"/> into the root's /tmp and installs it with apt (its Depends from the mirror).</summary>
    public static ProcessResult AptInstall(string root, string deb, bool check = true)
    {
        string name = Path.GetFileName(deb);
        File.Copy(deb, Path.Combine(root, "tmp", name), overwrite: true);
        return InRoot(root, $"apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold /tmp/{name}", check);
    }

    private static string CacheDirectory()
    {
        string baseDir = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Directory.CreateDirectory(Path.Combine(baseDir, "blockswarm")).FullName;
    }

    private static string Build(string? version)
    {
        string binary = PublishedCli.Binary();
        // One directory per process and version: parallel test processes never read a half-written .deb.
        string processDir = Path.Combine(Path.GetTempPath(), $"blockswarm-deb-{Environment.ProcessId}");
        string output = Path.Combine(processDir, version ?? "default");
        lock (s_buildLock)
        {
            if (!Directory.Exists(processDir))
                AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(processDir, recursive: true); } catch (IOException) { } };
            Directory.CreateDirectory(output);
            var args = new List<string> { Path.Combine(RepoPaths.Root, "packaging", "build-deb.sh"), "--binary", binary, "--output", output };
            if (version != null) args.AddRange(["--version", version]);
            var r = Tool.Run("/bin/bash", args, timeout: TimeSpan.FromMinutes(5));
            string deb = r.StdOut.Trim().Split('\n')[^1];
            Assert.True(File.Exists(deb), $"build-deb.sh printed no .deb path: {r.StdOut}{r.StdErr}");
            return deb;
        }
    }

    /// <summary>This machine's apt sources for <see cref="Suite"/> (deb822 stanzas and one-line entries), for mmdebstrap.</summary>
    public static string MirrorSources()
    {
        var files = new List<string>();
        if (File.Exists("/etc/apt/sources.list")) files.Add("/etc/apt/sources.list");
        if (Directory.Exists("/etc/apt/sources.list.d"))
            files.AddRange(Directory.GetFiles("/etc/apt/sources.list.d").Where(f => f.EndsWith(".list", StringComparison.Ordinal) || f.EndsWith(".sources", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        var sb = new StringBuilder();
        static bool OfSuite(string suite) => suite == Suite || suite.StartsWith(Suite + "-", StringComparison.Ordinal);
        foreach (var file in files)
        {
            string text = File.ReadAllText(file);
            if (file.EndsWith(".sources", StringComparison.Ordinal))
            {
                foreach (var stanza in text.ReplaceLineEndings("\n").Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
                {
                    var lines = stanza.Split('\n').Where(l => !l.TrimStart().StartsWith('#')).ToList();
                    string Field(string name) => lines.FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))?[(name.Length + 1)..].Trim() ?? "";
                    var suites = Field("Suites").Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (Field("Types").Split(' ').Contains("deb") && suites.Length > 0 && suites.All(OfSuite) && !Field("Enabled").Equals("no", StringComparison.OrdinalIgnoreCase))
                        sb.Append(string.Join('\n', lines)).Append("\n\n");
                }
            }
            else
            {
                foreach (var line in text.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("deb ", StringComparison.Ordinal)))
                {
                    // deb [options] URI SUITE COMPONENTS...
                    var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
                    int uri = words[1].StartsWith('[') ? words.FindIndex(w => w.EndsWith(']')) + 1 : 1;
                    if (uri > 0 && uri + 1 < words.Count && OfSuite(words[uri + 1])) sb.Append(line).Append('\n');
                }
            }
        }
        Requires.That(sb.Length > 0, $"no apt source for {Suite} in /etc/apt/sources.list(.d)");
        return sb.ToString();
    }

    private static string MakeRootTarball()
    {
        string cache = CacheDirectory();
        var week = ISOWeek.GetWeekOfYear(DateTime.UtcNow);
        string name = string.Create(CultureInfo.InvariantCulture, $"debroot-{Suite}-{ISOWeek.GetYear(DateTime.UtcNow)}-W{week:00}.tar");
        string tarball = Path.Combine(cache, name);
        using var _ = CacheLock(cache);
        if (File.Exists(tarball)) return tarball;
        foreach (var old in Directory.GetFiles(cache, $"debroot-{Suite}-*.tar")) File.Delete(old);
        string sources = Path.Combine(cache, $"debroot-{Suite}.sources");
        File.WriteAllText(sources, MirrorSources());
        string partial = tarball + ".partial";
        File.Delete(partial);
        // The list file has to end in .sources for deb822 stanzas: mmdebstrap pastes it as the root's sources.
        Tool.Run("mmdebstrap", ["--variant=minbase", "--quiet", "--format=tar", Suite, partial, sources], timeout: TimeSpan.FromMinutes(20));
        File.Move(partial, tarball);
        return tarball;
    }

    private static string MakeInstalledRoot()
    {
        string deb = BuildDeb();
        RootTarball();   // made (under the same lock) before this one is taken
        string cache = CacheDirectory();
        string hash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(deb)))[..16];
        string root = Path.Combine(cache, $"debroot-installed-{hash}");
        using var _ = CacheLock(cache);
        if (File.Exists(Path.Combine(root, "usr", "bin", "blockswarm"))) return root;
        foreach (var old in Directory.GetDirectories(cache, "debroot-installed-*")) Directory.Delete(old, recursive: true);
        string partial = root + ".partial";
        if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        NewRoot(partial);
        // A server's root: systemd (systemd-analyze verify of the units, in there) and man-db (their man: links).
        InRoot(partial, "apt-get update -q && apt-get install -y -q --no-install-recommends systemd man-db");
        AptInstall(partial, deb);
        Directory.Move(partial, root);
        return root;
    }

    /// <summary>One maker at a time across test processes (an exclusive lock on a file in the cache directory).</summary>
    private static FileStream CacheLock(string cache)
    {
        string path = Path.Combine(cache, "debroot.lock");
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(30);
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (DateTime.UtcNow < deadline) { Thread.Sleep(500); }
        }
    }
}
