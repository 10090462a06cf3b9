/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet.cli;

import io.github.litehrnet.Image;
import io.github.litehrnet.Pose;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.color.ColorSpace;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Line2D;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/** Image files through the JDK's ImageIO: reading as the library's {@link Image}, writing annotated copies. */
final class ImageFiles {
    /** Limb colours (RGB), as Python's draw_poses uses them (there in BGR). */
    private static final int[][] LIMB_COLORS = {
        {0, 128, 255}, {51, 153, 255}, {102, 178, 255}, {0, 230, 230}, {255, 153, 255}, {255, 204, 153},
        {255, 102, 255}, {255, 51, 255}, {255, 178, 102}, {255, 153, 51}, {153, 153, 255}, {102, 102, 255},
        {51, 51, 255}, {153, 255, 153}, {102, 255, 102}, {51, 255, 51}, {0, 255, 0}, {255, 0, 0}, {0, 0, 255},
    };

    private ImageFiles() {
    }

    /** An image file's pixels: the library's view and the picture to draw on. */
    static final class Loaded {
        final Image image;
        final BufferedImage picture;

        Loaded(Image image, BufferedImage picture) {
            this.image = image;
            this.picture = picture;
        }
    }

    /**
     * Reads an image file as Python's {@code load_image} does: the EXIF orientation of JPEG and PNG files applied (the
     * upright picture), grayscale read from its samples (ImageIO's colour conversion of gray would brighten them),
     * 16-bit samples scaled to 8 bits, alpha dropped.
     *
     * @throws IllegalArgumentException naming the file when it is missing or not a readable image
     */
    static Loaded read(Path path) {
        byte[] file;
        BufferedImage picture;
        try {
            file = Files.readAllBytes(path);
            picture = ImageIO.read(new ByteArrayInputStream(file));
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(path + ": not a readable image (" + e.getMessage() + ")");
        }
        if (picture == null) {
            throw new IllegalArgumentException(path + ": not a readable image");
        }
        if (file.length >= 2 && (file[0] & 0xFF) == 0xFF && (file[1] & 0xFF) == 0xD8 && jpegTruncated(file)) {
            throw new IllegalArgumentException(path + ": truncated JPEG (no end-of-image marker after the image data)");
        }
        int width = picture.getWidth();
        int height = picture.getHeight();
        int[] argb;
        if (picture.getColorModel().getColorSpace().getType() == ColorSpace.TYPE_GRAY) {
            Raster raster = picture.getRaster();
            int bits = picture.getColorModel().getComponentSize(0);
            double scale = bits > 8 ? 255.0 / ((1 << bits) - 1) : 1.0;
            argb = new int[width * height];
            int[] row = new int[width];
            for (int y = 0; y < height; y++) {
                raster.getSamples(0, y, width, 1, 0, row);
                for (int x = 0; x < width; x++) {
                    int v = (int) Math.min(255, Math.round(row[x] * scale));
                    argb[y * width + x] = 0xFF000000 | (v << 16) | (v << 8) | v;
                }
            }
        } else {
            argb = picture.getRGB(0, 0, width, height, null, 0, width);
        }
        int orientation = ExifOrientation.read(file);
        argb = ExifOrientation.apply(argb, width, height, orientation);
        if (orientation >= 5) {
            int swap = width;
            width = height;
            height = swap;
        }
        BufferedImage drawable = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        drawable.setRGB(0, 0, width, height, argb, 0, width);
        return new Loaded(Image.ofArgb(argb, width, height), drawable);
    }

    /**
     * True when no end-of-image marker follows the last start-of-scan (Python's {@code _jpeg_truncated}): in
     * entropy-coded data 0xFF is followed by 0x00 or a restart marker, so FF D9 after the last FF DA is the image's own
     * end (an EXIF thumbnail's comes before). ImageIO would decode such a file gray-filled with only a warning.
     */
    static boolean jpegTruncated(byte[] file) {
        int lastScan = -1;
        for (int i = file.length - 2; i >= 0; i--) {
            if ((file[i] & 0xFF) == 0xFF && (file[i + 1] & 0xFF) == 0xDA) {
                lastScan = i;
                break;
            }
        }
        if (lastScan < 0) {
            return true;
        }
        for (int i = lastScan; i + 1 < file.length; i++) {
            if ((file[i] & 0xFF) == 0xFF && (file[i + 1] & 0xFF) == 0xD9) {
                return false;
            }
        }
        return true;
    }

    /** Draws keypoints (score above {@code kptThr}), skeleton edges and, when tracking, boxes and ids; writes the file. */
    static void writeAnnotated(BufferedImage picture, List<Pose> poses, int[][] skeleton, float kptThr,
            boolean drawBoxes, Path target) {
        BufferedImage canvas = new BufferedImage(picture.getWidth(), picture.getHeight(), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas.createGraphics();
        try {
            g.drawImage(picture, 0, 0, null);
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            float scale = Math.max(1f, Math.max(picture.getWidth(), picture.getHeight()) / 640f);
            float radius = Math.max(1, Math.round(3 * scale));
            g.setStroke(new BasicStroke(Math.max(1, Math.round(2 * scale))));
            for (Pose pose : poses) {
                boolean[] ok = new boolean[pose.size()];
                for (int k = 0; k < ok.length; k++) {
                    ok[k] = pose.score(k) > kptThr && Float.isFinite(pose.x(k)) && Float.isFinite(pose.y(k));
                }
                if (drawBoxes) {
                    g.setColor(new Color(255, 200, 0));
                    g.drawRect(Math.round(pose.box().x1), Math.round(pose.box().y1), Math.round(pose.box().width()),
                            Math.round(pose.box().height()));
                    g.drawString("#" + pose.trackId(), Math.round(pose.box().x1), Math.max(10,
                            Math.round(pose.box().y1) - 4));
                }
                for (int e = 0; e < skeleton.length; e++) {
                    int a = skeleton[e][0];
                    int b = skeleton[e][1];
                    if (a >= 0 && b >= 0 && a < ok.length && b < ok.length && ok[a] && ok[b]) {
                        int[] c = LIMB_COLORS[e % LIMB_COLORS.length];
                        g.setColor(new Color(c[0], c[1], c[2]));
                        g.draw(new Line2D.Float(pose.x(a), pose.y(a), pose.x(b), pose.y(b)));
                    }
                }
                g.setColor(Color.GREEN);
                for (int k = 0; k < ok.length; k++) {
                    if (ok[k]) {
                        g.fill(new Ellipse2D.Float(pose.x(k) - radius, pose.y(k) - radius, 2 * radius, 2 * radius));
                    }
                }
            }
        } finally {
            g.dispose();
        }
        String name = target.getFileName().toString();
        String format = name.substring(name.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT);
        if (format.equals("jpeg")) {
            format = "jpg";
        } else if (format.equals("tif")) {
            format = "tiff";
        }
        try {
            if (!ImageIO.write(canvas, format, target.toFile())) {
                throw new IllegalArgumentException("cannot write " + target + " (no ImageIO writer for " + format + ")");
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot write " + target + " (" + e.getMessage() + ")");
        }
    }
}
