namespace BlockSwarm.Devices;

/// <summary>A part of a piece-stream range that lives on the device: <see cref="Length"/> bytes at <see cref="DeviceOffset"/>, <see cref="BufferOffset"/> bytes into the range.</summary>
public readonly record struct DeviceSlice(long DeviceOffset, int Length, int BufferOffset);
