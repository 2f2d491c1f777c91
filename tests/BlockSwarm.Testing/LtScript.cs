namespace BlockSwarm.Testing;

/// <summary>
/// tests/scripts/lt.py, the one python3-libtorrent helper (create, seed, fetch), copied next to every assembly that
/// references this project; always run by Debian's python, where python3-libtorrent is installed.
/// </summary>
public static class LtScript
{
    public static string Path => System.IO.Path.Combine(AppContext.BaseDirectory, "lt.py");

    /// <summary><c>/usr/bin/python3 lt.py SUBCOMMAND ARGS…</c> as a spec to start (in a namespace, measured, …).</summary>
    public static ProcessSpec Spec(string label, string subcommand, params IEnumerable<string> args) =>
        new(Tool.SystemPython, [Path, subcommand, .. args]) { Label = label };

    /// <summary><c>lt.py create</c>: a plain v1 torrent of a file or directory; returns its info-hash (hex).</summary>
    public static string Create(string source, string torrent, long pieceSize, params IEnumerable<string> trackers) =>
        Tool.Run(Tool.SystemPython, [Path, "create", source, torrent, "--piece-size", pieceSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            .. trackers.SelectMany(t => new[] { "--tracker", t })]).StdOut.Trim();
}
