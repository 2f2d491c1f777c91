namespace BlockSwarm.Security.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SwarmSecretTests
{
    [Fact]
    public void Same_text_gives_the_same_keys_and_id_other_text_does_not()
    {
        var a = SwarmSecret.FromText("correct horse battery staple", "test");
        var b = SwarmSecret.FromText("  correct horse battery staple\n", "test");
        var c = SwarmSecret.FromText("correct horse battery stapler", "test");
        Assert.Equal(a.Id, b.Id);
        Assert.NotEqual(a.Id, c.Id);
        Assert.Equal(a.Derive("x", [1, 2], 32), b.Derive("x", [1, 2], 32));
        Assert.NotEqual(a.Derive("x", [1, 2], 32), a.Derive("y", [1, 2], 32));
        Assert.NotEqual(a.Derive("x", [1, 2], 32), a.Derive("x", [1, 3], 32));
        Assert.NotEqual(a.Derive("x", [1, 2], 32), c.Derive("x", [1, 2], 32));
    }

    [Fact]
    public void Proofs_verify_only_for_their_purpose_message_and_secret()
    {
        var a = SwarmSecret.FromText("0123456789abcdef", "test");
        var other = SwarmSecret.FromText("0123456789abcdeg", "test");
        byte[] proof = a.Proof("announce", "hello"u8);
        Assert.True(a.Verify("announce", "hello"u8, proof));
        Assert.False(a.Verify("handshake", "hello"u8, proof));
        Assert.False(a.Verify("announce", "hellO"u8, proof));
        Assert.False(other.Verify("announce", "hello"u8, proof));
        Assert.False(a.Verify("announce", "hello"u8, proof.AsSpan(0, 31)));
    }

    [Fact]
    public void Generated_secrets_are_used_as_they_are_and_passphrases_are_stretched()
    {
        var generated = SwarmSecret.FromText(SwarmSecret.Generate(), "test");
        Assert.False(generated.Stretched);
        var passphrase = SwarmSecret.FromText("a passphrase someone typed", "test");
        Assert.True(passphrase.Stretched);
        // 43 characters that are not all base64url: a passphrase too.
        Assert.True(SwarmSecret.FromText("this passphrase has exactly forty-three ch.", "test").Stretched);
    }

    [Fact]
    public void Short_secrets_are_refused_with_a_message_naming_the_source()
    {
        var ex = Assert.Throws<SecretException>(() => SwarmSecret.FromText("short", "/etc/bs.secret"));
        Assert.Contains("/etc/bs.secret", ex.Message);
        Assert.Contains("at least 16", ex.Message);
    }

    [Fact]
    public void A_created_file_is_private_loads_back_and_is_never_overwritten()
    {
        string dir = Directory.CreateTempSubdirectory("bs-secret-").FullName;
        try
        {
            string path = Path.Combine(dir, "swarm.secret");
            var created = SwarmSecret.CreateFile(path);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            var loaded = SwarmSecret.Load(path);
            Assert.Equal(created.Id, loaded.Id);
            Assert.Null(loaded.FileModeWarning);
            Assert.Equal(44, new FileInfo(path).Length);
            string before = File.ReadAllText(path);
            Assert.Throws<SecretException>(() => SwarmSecret.CreateFile(path));
            Assert.Equal(before, File.ReadAllText(path));

            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
            Assert.Contains("chmod 600", SwarmSecret.Load(path).FileModeWarning);
            var missing = Assert.Throws<SecretException>(() => SwarmSecret.Load(Path.Combine(dir, "nope")));
            Assert.Contains("does not exist", missing.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
