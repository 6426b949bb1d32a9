"""Draws Heartline's icon (a pulse line on a teal rounded square) as RGBA PNGs, stdlib only."""
import struct, zlib

def png(size, path):
    px = []
    r = size * 0.2
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            # rounded square
            cx = min(max(x, r), size - 1 - r); cy = min(max(y, r), size - 1 - r)
            inside = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
            col = (0, 0, 0, 0)
            if inside:
                col = (15, 118, 110, 255)
                # pulse: flat, up spike, down spike, flat at mid height
                u = x / size; mid = 0.55
                if u < 0.3 or u > 0.7: ly = mid
                elif u < 0.42: ly = mid - (u - 0.3) / 0.12 * 0.35
                elif u < 0.58: ly = mid - 0.35 + (u - 0.42) / 0.16 * 0.6
                else: ly = mid + 0.25 - (u - 0.58) / 0.12 * 0.25
                if abs(y / size - ly) < 0.06: col = (255, 255, 255, 255)
            row += bytes(col)
        px.append(bytes(row))
    raw = b"".join(px)
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    open(path, "wb").write(data)

# The sizes the Linux packages install in the hicolor theme (32 to 512); 512 is icon.png.
for s, name in [(32, "32x32.png"), (48, "48x48.png"), (64, "64x64.png"), (128, "128x128.png"),
                (256, "256x256.png"), (512, "icon.png")]:
    png(s, name)
