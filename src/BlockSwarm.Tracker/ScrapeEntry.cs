using BlockSwarm.Metainfo;

namespace BlockSwarm.Tracker;

/// <summary>Scrape counts of one swarm.</summary>
public readonly record struct ScrapeEntry(InfoHash InfoHash, int Complete, int Incomplete, int Downloaded);
