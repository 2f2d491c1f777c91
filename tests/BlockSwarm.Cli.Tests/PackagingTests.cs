using System.Text.Json.Nodes;
using BlockSwarm.Testing;

namespace BlockSwarm.Cli.Tests;

/// <summary>
/// The .deb packaging/build-deb.sh makes from the NativeAOT publish: what it holds, lintian, the generated man pages and
/// bash completion, the serve.conf-to-command-line helper, the units under systemd-analyze verify, and install, upgrade,
/// remove and purge with apt in a clean Debian root (<see cref="DebianPackageFixture"/>).
/// </summary>
public sealed class PackagingTests
{
    private static string Repo(params string[] parts) => Path.Combine([RepoPaths.Root, .. parts]);

    private static string[] Commands(string binary) =>
        [.. Tool.Run(binary, "--help").StdOut.Split('\n')
            .SkipWhile(l => l != "Commands:").Skip(1)
            .TakeWhile(l => l.StartsWith("  ", StringComparison.Ordinal))
            .Select(l => l.Trim().Split(' ')[0])];

    [Fact]
    public void Deb_holds_the_binary_units_config_docs_and_passes_lintian()
    {
        DebianPackageFixture.RequireTools();
        Requires.Tools("lintian");
        string deb = DebianPackageFixture.BuildDeb();
        Assert.Matches(@"/blockswarm_\d+\.\d+\.\d+-\d+_amd64\.deb$", deb);

        var contents = Tool.Run("dpkg-deb", "--contents", deb).StdOut;
        string[] expected =
        [
            "./usr/bin/blockswarm", "./usr/lib/blockswarm/serve-from-env", "./usr/lib/blockswarm/ezio -> ../../bin/blockswarm",
            "./usr/lib/systemd/system/blockswarm-serve.service", "./usr/lib/systemd/system/blockswarm-serve@.service",
            "./etc/blockswarm/serve.conf", "./usr/share/bash-completion/completions/blockswarm",
            "./usr/share/doc/blockswarm/copyright", "./usr/share/doc/blockswarm/changelog.Debian.gz",
            "./usr/share/doc/blockswarm/operator-guide.md.gz", "./usr/share/man/man1/blockswarm.1.gz",
            "./usr/share/lintian/overrides/blockswarm",
        ];
        foreach (var path in expected) Assert.Contains(path, contents, StringComparison.Ordinal);
        // Nothing of the build leaks in (the .dbg symbols, pdbs), and /usr/sbin/ezio is not claimed.
        Assert.DoesNotContain(".dbg", contents, StringComparison.Ordinal);
        Assert.DoesNotContain(".pdb", contents, StringComparison.Ordinal);
        Assert.DoesNotContain("sbin/ezio", contents, StringComparison.Ordinal);
        Assert.All(contents.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Contains(" root/root ", l, StringComparison.Ordinal));

        string Field(string name) => Tool.Run("dpkg-deb", "--field", deb, name).StdOut.Trim();
        string version = Tool.Run(PublishedCli.Binary(), "--version").StdOut.Trim().Split('+')[0];
        Assert.Equal($"{version}-1", Field("Version"));
        Assert.Matches(@"^libc6 \(>= 2\.\d+\), libssl3 \| libssl3t64$", Field("Depends"));
        Assert.Equal("libbz2-1.0, liblzma5, libzstd1, zlib1g", Field("Recommends"));
        Assert.Equal("/etc/blockswarm/serve.conf", Tool.Run("dpkg-deb", "--info", deb, "conffiles").StdOut.Trim());

        // Errors and warnings fail; every override is explained in build-deb.sh. Info and pedantic tags are shown.
        var lintian = Tool.Run("lintian", ["--fail-on", "error,warning", "--info", "--pedantic", deb], check: false, timeout: TimeSpan.FromMinutes(3));
        Assert.True(lintian.ExitCode == 0, $"lintian:\n{lintian.StdOut}{lintian.StdErr}");
        Assert.DoesNotMatch("(?m)^[EW]: ", lintian.StdOut);
    }

    [Fact]
    public void Man_pages_and_bash_completion_cover_every_command()
    {
        DebianPackageFixture.RequireTools();
        Requires.Tools("man");
        string deb = DebianPackageFixture.BuildDeb();
        using var dir = new TempDirectory("deb-x");
        Tool.Run("dpkg-deb", "-x", deb, dir.Path);
        string binary = PublishedCli.Binary();
        var commands = Commands(binary);
        Assert.Contains("serve", commands);
        Assert.Contains("ezio", commands);

        // One page per command, rendered by man without warnings, with the command's options and the exit codes.
        foreach (var name in commands.Select(c => $"blockswarm-{c}").Prepend("blockswarm"))
        {
            string page = Path.Combine(dir.Path, "usr", "share", "man", "man1", name + ".1.gz");
            Assert.True(File.Exists(page), $"{name}.1.gz missing");
            var man = Tool.Run("man", ["--warnings", "-l", page], env: new Dictionary<string, string> { ["MANWIDTH"] = "200", ["LC_ALL"] = "C.UTF-8", ["MANPAGER"] = "cat", ["PAGER"] = "cat" });
            Assert.True(man.StdErr.Trim().Length == 0, $"{name}: {man.StdErr}");
            Assert.Contains("EXIT STATUS", man.StdOut, StringComparison.Ordinal);
            Assert.Contains("SYNOPSIS", man.StdOut, StringComparison.Ordinal);
        }
        var serve = Tool.Run("man", ["-l", Path.Combine(dir.Path, "usr/share/man/man1/blockswarm-serve.1.gz")],
            env: new Dictionary<string, string> { ["MANWIDTH"] = "200", ["MANPAGER"] = "cat", ["PAGER"] = "cat" }).StdOut;
        foreach (var option in new[] { "--source", "--torrent", "--http-port", "--bt-port", "--expect", "--policy", "--upload-limit", "--slow-start" })
            Assert.Contains(option, serve.Replace('‐', '-'), StringComparison.Ordinal);
        Assert.Contains("/etc/blockswarm/serve.conf", serve, StringComparison.Ordinal);

        // The completion really completes: source it, set COMP_WORDS/COMP_CWORD as bash does, call the function.
        string completion = Path.Combine(dir.Path, "usr", "share", "bash-completion", "completions", "blockswarm");
        string Complete(string line)
        {
            var words = line.Split(' ');
            string array = string.Join(' ', words.Select(w => $"'{w}'"));
            var r = Tool.Run("/bin/bash", ["-c", $"source '{completion}' && COMP_WORDS=({array}) && COMP_CWORD={words.Length - 1} && _blockswarm && printf '%s\\n' \"${{COMPREPLY[@]}}\""],
                workDir: dir.Path);
            return string.Join(' ', r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        }
        Assert.Equal(string.Join(' ', commands.Order(StringComparer.Ordinal)), Complete("blockswarm "));
        Assert.Equal("secret seed serve", Complete("blockswarm se"));
        Assert.Equal("--log-format --log-level", Complete("blockswarm --log"));
        Assert.Equal("--secret-file --signing-key --slow-start --source --stop-when-done --switch-prefix", Complete("blockswarm serve --s"));
        Assert.Equal("idle: none ratio: until-all-done", Complete("blockswarm serve --policy "));
        Assert.Equal("json text", Complete("blockswarm --log-format "));
        Assert.Equal("--target", Complete("blockswarm --log-level debug deploy --ta"));
        Assert.Equal("", Complete("blockswarm serve --expect "));
        Assert.Equal("usr", Complete("blockswarm serve --source u"));
        Assert.Equal("--bind-ip", Complete("blockswarm ezio --bi"));
        // Every option of every command is offered (the list is generated from each command's --help).
        foreach (var command in commands)
        {
            var help = Tool.Run(binary, command, "--help").StdOut;
            var offered = Complete($"blockswarm {command} -").Split(' ');
            foreach (var option in System.Text.RegularExpressions.Regex.Matches(help, @"(?m)^  (?:-\w, )*(--[a-z-]+)").Select(m => m.Groups[1].Value))
                Assert.Contains(option, offered);
        }
    }

    [Fact]
    public void Serve_helper_turns_serve_conf_into_serve_options()
    {
        string helper = Repo("packaging", "debian", "serve-from-env");
        ProcessResult Run(Dictionary<string, string> env)
        {
            env["BLOCKSWARM_BIN"] = "/bin/echo";
            env["PATH"] = "/usr/bin:/bin";
            return Tool.Run(new ProcessSpec("/usr/bin/env", ["-i", .. env.Select(kv => $"{kv.Key}={kv.Value}"), "/bin/sh", helper]), check: false);
        }

        var full = Run(new()
        {
            ["BLOCKSWARM_SOURCE"] = "/srv/lab image.img",
            ["BLOCKSWARM_TORRENT"] = "/srv/lab.torrent",
            ["LISTEN"] = "10.0.0.1",
            ["HTTP_PORT"] = "8081",
            ["BT_PORT"] = "6882",
            ["EXPECT"] = "30",
            ["POLICY"] = "ratio:2",
            ["UPLOAD_LIMIT"] = "100MiB",
            ["SLOW_START"] = "30",
            ["STOP_WHEN_DONE"] = "yes",
            ["EXTRA_ARGS"] = "--max-peers 128 --map *",
        });
        Assert.Equal(0, full.ExitCode);
        Assert.Equal("serve --source /srv/lab image.img --torrent /srv/lab.torrent --listen 10.0.0.1 --http-port 8081 --bt-port 6882 " +
                     "--expect 30 --policy ratio:2 --upload-limit 100MiB --slow-start 30 --stop-when-done --max-peers 128 --map *", full.StdOut.Trim());

        // Empty settings are left out: serve's own defaults apply.
        var minimal = Run(new() { ["BLOCKSWARM_SOURCE"] = "/dev/sdb", ["LISTEN"] = "", ["EXPECT"] = "", ["STOP_WHEN_DONE"] = "no" });
        Assert.Equal("serve --source /dev/sdb", minimal.StdOut.Trim());

        // No source, or a malformed yes/no: exit 2 (the unit's RestartPreventExitStatus) with the file to edit.
        var none = Run(new() { ["BLOCKSWARM_SOURCE"] = "" });
        Assert.Equal(2, none.ExitCode);
        Assert.Contains("BLOCKSWARM_SOURCE is not set", none.StdErr, StringComparison.Ordinal);
        Assert.Contains("/etc/blockswarm/serve.conf", none.StdErr, StringComparison.Ordinal);
        Assert.Equal(2, Run(new() { ["BLOCKSWARM_SOURCE"] = "x", ["STOP_WHEN_DONE"] = "maybe" }).ExitCode);

        // Every variable serve.conf documents is one the helper reads, and every option it passes is one serve has.
        string conf = File.ReadAllText(Repo("packaging", "debian", "serve.conf"));
        string script = File.ReadAllText(helper);
        foreach (var variable in System.Text.RegularExpressions.Regex.Matches(conf, @"(?m)^([A-Z_]+)=").Select(m => m.Groups[1].Value))
            Assert.Contains("${" + variable, script, StringComparison.Ordinal);
        var serveHelp = Tool.Run(PublishedCli.Binary(), "serve", "--help").StdOut;
        foreach (var option in System.Text.RegularExpressions.Regex.Matches(script, @"set -- ""\$@"" (--[a-z-]+)").Select(m => m.Groups[1].Value))
            Assert.Contains(option + " ", serveHelp, StringComparison.Ordinal);
    }

    [Fact]
    public void Units_pass_systemd_analyze_verify_in_the_installed_root()
    {
        string root = DebianPackageFixture.InstalledRoot();
        // In the root (a Debian server with systemd, man-db and the package): ExecStart must exist and be executable,
        // every key must be known (unknown ones are only warnings, so stderr must be empty), man: links must resolve.
        var verify = DebianPackageFixture.InRoot(root, "systemd-analyze verify blockswarm-serve.service blockswarm-serve@lab.service", check: false);
        Assert.True(verify.ExitCode == 0 && verify.StdErr.Trim().Length == 0, $"systemd-analyze verify:\n{verify.StdOut}{verify.StdErr}");

        var security = DebianPackageFixture.InRoot(root, "systemd-analyze security --offline=yes /usr/lib/systemd/system/blockswarm-serve.service", check: false);
        var score = System.Text.RegularExpressions.Regex.Match(security.StdOut, @"Overall exposure level for \S+: (\d+\.\d+) (\w+)");
        Assert.True(score.Success, security.StdOut + security.StdErr);
        Assert.True(double.Parse(score.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) <= 2.5,
            $"exposure {score.Groups[1].Value} {score.Groups[2].Value}:\n{security.StdOut}");

        // The template reads /etc/blockswarm/NAME.conf; installing enabled and started nothing (no image is named yet).
        var template = File.ReadAllText(Path.Combine(root, "usr/lib/systemd/system/blockswarm-serve@.service"));
        Assert.Contains("EnvironmentFile=/etc/blockswarm/%i.conf", template, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(root, "etc/systemd/system/multi-user.target.wants/blockswarm-serve.service")));
        Assert.Equal("blockswarm", Path.GetFileName(File.ResolveLinkTarget(Path.Combine(root, "usr/lib/blockswarm/ezio"), returnFinalTarget: false)!.FullName));
    }

    [Fact]
    public void Installs_upgrades_removes_and_purges_in_a_clean_root()
    {
        DebianPackageFixture.RequireTools();
        Requires.Tools("mkfs.ext4");
        string deb = DebianPackageFixture.BuildDeb();
        string version = Tool.Run("dpkg-deb", "--field", deb, "Version").StdOut.Trim();
        string next = version.Split('-')[0] + "-" + (int.Parse(version.Split('-')[1], System.Globalization.CultureInfo.InvariantCulture) + 1);
        string upgrade = DebianPackageFixture.BuildDeb(next);
        using var dir = new TempDirectory("debroot");
        string root = DebianPackageFixture.NewRoot(Path.Combine(dir.Path, "root"));
        ProcessResult In(string script) => DebianPackageFixture.InRoot(root, script);
        string Status() => DebianPackageFixture.InRoot(root, "dpkg-query -W -f '${Status} ${Version}' blockswarm", check: false).StdOut.Trim();
        string conf = Path.Combine(root, "etc", "blockswarm", "serve.conf");

        // Install: apt resolves the Depends (libssl3 is not in minbase) from the mirror; no systemd runs here, and the
        // maintainer scripts cope.
        In("apt-get update -q");
        DebianPackageFixture.AptInstall(root, deb);
        Assert.Equal($"install ok installed {version}", Status());
        Assert.StartsWith(version.Split('-')[0] + "+", In("blockswarm --version").StdOut.Trim(), StringComparison.Ordinal);
        Assert.Contains("ezio v", In("/usr/lib/blockswarm/ezio --version").StdOut, StringComparison.Ordinal);

        // A real job in there: create a torrent of an ext4 image (used blocks only), inspect it, verify the image.
        FsImage.SampleExt4(Path.Combine(root, "tmp", "lab.img"), 64 * FsImage.MiB, bigBytes: 4 << 20, mediumBytes: 1 << 20);
        In("blockswarm create --source /tmp/lab.img --output /tmp/lab.torrent");
        var inspect = JsonNode.Parse(In("blockswarm inspect /tmp/lab.torrent --json").StdOut)!;
        Assert.Equal(40, ((string?)inspect["infoHash"])!.Length);
        In("blockswarm verify --torrent /tmp/lab.torrent --target /tmp/lab.img");

        // Upgrade to a higher version: the admin's edit of the conffile stays, with no question asked.
        File.AppendAllText(conf, "BLOCKSWARM_SOURCE=/srv/blockswarm/lab.img\n");
        string edited = File.ReadAllText(conf);
        DebianPackageFixture.AptInstall(root, upgrade);
        Assert.Equal($"install ok installed {next}", Status());
        Assert.Equal(edited, File.ReadAllText(conf));

        // Remove: the program goes, the conffile stays.
        Directory.CreateDirectory(Path.Combine(root, "var/lib/private/blockswarm"));   // what DynamicUser's StateDirectory leaves
        File.WriteAllText(Path.Combine(root, "var/lib/private/blockswarm/state"), "x");
        In("apt-get remove -y -q blockswarm");
        Assert.StartsWith("deinstall ok config-files", Status(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(root, "usr/bin/blockswarm")));
        Assert.False(File.Exists(Path.Combine(root, "usr/lib/systemd/system/blockswarm-serve.service")));
        Assert.Equal(edited, File.ReadAllText(conf));

        // Purge: the conffile, /etc/blockswarm and the service's state go; no user was ever added (DynamicUser).
        In("apt-get purge -y -q blockswarm");
        Assert.DoesNotContain("installed", Status(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(root, "etc/blockswarm")));
        Assert.False(Directory.Exists(Path.Combine(root, "var/lib/private/blockswarm")));
        Assert.DoesNotContain("blockswarm", File.ReadAllText(Path.Combine(root, "etc/passwd")), StringComparison.Ordinal);
        Assert.DoesNotContain("blockswarm", File.ReadAllText(Path.Combine(root, "etc/group")), StringComparison.Ordinal);
    }
}
