using System.Text;

namespace BlockSwarm.Security;

/// <summary>Small files only their owner may read (keys, tokens): created 0600 and never overwritten, read with a size cap.</summary>
internal static class PrivateFile
{
    /// <summary>
    /// Writes <paramref name="text"/> to a new file, mode 0600 (its directory made 0700 when missing). False when the
    /// file appeared meanwhile (another process created it first: load that one). Throws <see cref="SecretException"/>.
    /// </summary>
    public static bool TryCreate(string path, string text, string what)
    {
        try
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir is not null && !Directory.Exists(dir))
            {
                if (OperatingSystem.IsWindows()) Directory.CreateDirectory(dir);
                else Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using var stream = new FileStream(path, options);
            stream.Write(Encoding.ASCII.GetBytes(text));
            stream.Flush(flushToDisk: true);
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            return false;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SecretException($"cannot write the {what} file {path}: {ex.Message}", ex);
        }
    }

    /// <summary>Reads the file's text; <paramref name="modeWarning"/> says when others than its owner may read it.</summary>
    public static string Read(string path, int maxLength, string what, out string? modeWarning)
    {
        modeWarning = null;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new SecretException($"the {what} file {path} does not exist");
            if (info.Length > maxLength) throw new SecretException($"the {what} file {path} is {info.Length} bytes, more than a {what} takes");
            if (!OperatingSystem.IsWindows())
            {
                UnixFileMode mode = File.GetUnixFileMode(path);
                if ((mode & (UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
                    modeWarning = $"the {what} file {path} can be read by other users (mode {Convert.ToString((int)mode, 8)}); chmod 600 it";
            }
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SecretException($"cannot read the {what} file {path}: {ex.Message}", ex);
        }
    }
}
