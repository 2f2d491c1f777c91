using System.Text.Json;
using System.Text.Json.Serialization;

namespace BlockSwarm.Deploy.Api;

/// <summary>
/// The deployment API's JSON contract (camelCase web defaults), generated at compile time: server, client, demo and
/// dashboard agree on it, and the CLI needs no reflection to read or write it (it is published as a NativeAOT binary).
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(JobInfo))]
[JsonSerializable(typeof(ClientReport))]
[JsonSerializable(typeof(ReportReply))]
[JsonSerializable(typeof(Snapshot))]
[JsonSerializable(typeof(ApiError))]
[JsonSerializable(typeof(EnrolReply))]
public sealed partial class DeployJson : JsonSerializerContext;

/// <summary>The body of a 400 answer: what was wrong with the request.</summary>
public sealed record ApiError(string Error);

/// <summary>
/// The answer to <c>POST /api/clients/{id}/enrol</c>: the token the client sends with each status report of that id
/// (<c>Authorization: Bearer TOKEN</c>), and the job it enrolled for.
/// </summary>
public sealed record EnrolReply(string ClientId, string Token, string JobId);
