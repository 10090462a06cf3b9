/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet;

/**
 * A person box {@code (x1, y1, x2, y2)} in image pixels with a detection score (1 when there is none). Immutable.
 *
 * <p>Boxes are checked where they are used ({@link Geometry#checkBoxes}): NaN, infinite and empty boxes are errors
 * there, with the index of the box in the message.
 */
public final class Box {
    public final float x1;
    public final float y1;
    public final float x2;
    public final float y2;
    /** Detection score, 1 where none was given. */
    public final float score;

    public Box(float x1, float y1, float x2, float y2, float score) {
        this.x1 = x1;
        this.y1 = y1;
        this.x2 = x2;
        this.y2 = y2;
        this.score = score;
    }

    public Box(float x1, float y1, float x2, float y2) {
        this(x1, y1, x2, y2, 1f);
    }

    /** A box from COCO's {@code [x, y, width, height]}. */
    public static Box fromXywh(float x, float y, float width, float height, float score) {
        return new Box(x, y, x + width, y + height, score);
    }

    public float width() {
        return x2 - x1;
    }

    public float height() {
        return y2 - y1;
    }

    /** This box with another score. */
    public Box withScore(float newScore) {
        return new Box(x1, y1, x2, y2, newScore);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Box)) {
            return false;
        }
        Box b = (Box) o;
        return Float.compare(x1, b.x1) == 0 && Float.compare(y1, b.y1) == 0 && Float.compare(x2, b.x2) == 0
                && Float.compare(y2, b.y2) == 0 && Float.compare(score, b.score) == 0;
    }

    @Override
    public int hashCode() {
        int h = Float.hashCode(x1);
        h = 31 * h + Float.hashCode(y1);
        h = 31 * h + Float.hashCode(x2);
        h = 31 * h + Float.hashCode(y2);
        return 31 * h + Float.hashCode(score);
    }

    @Override
    public String toString() {
        return "Box[" + x1 + ", " + y1 + ", " + x2 + ", " + y2 + ", score " + score + "]";
    }
}
