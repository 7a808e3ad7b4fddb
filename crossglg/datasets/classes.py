"""Class names per dataset (0-based label = list index) and dataset facts (fps, joint source).

Names follow the datasets' own documentation (see ``../shared/data/README.md`` for the four small
datasets and the official NTU RGB+D 120 page for NTU).
"""

from __future__ import annotations

NTU120_CLASSES: tuple[str, ...] = (
    "drink water", "eat meal/snack", "brushing teeth", "brushing hair", "drop", "pickup", "throw",
    "sitting down", "standing up (from sitting position)", "clapping", "reading", "writing",
    "tear up paper", "wear jacket", "take off jacket", "wear a shoe", "take off a shoe",
    "wear on glasses", "take off glasses", "put on a hat/cap", "take off a hat/cap", "cheer up",
    "hand waving", "kicking something", "reach into pocket", "hopping (one foot jumping)", "jump up",
    "make a phone call/answer phone", "playing with phone/tablet", "typing on a keyboard",
    "pointing to something with finger", "taking a selfie", "check time (from watch)",
    "rub two hands together", "nod head/bow", "shake head", "wipe face", "salute",
    "put the palms together", "cross hands in front (say stop)", "sneeze/cough", "staggering",
    "falling", "touch head (headache)", "touch chest (stomachache/heart pain)",
    "touch back (backache)", "touch neck (neckache)", "nausea or vomiting condition",
    "use a fan (with hand or paper)/feeling warm", "punching/slapping other person",
    "kicking other person", "pushing other person", "pat on back of other person",
    "point finger at the other person", "hugging other person", "giving something to other person",
    "touch other person's pocket", "handshaking", "walking towards each other",
    "walking apart from each other",
    # NTU RGB+D 120 only (A061-A120)
    "put on headphone", "take off headphone", "shoot at the basket", "bounce ball",
    "tennis bat swing", "juggling table tennis balls", "hush (quite)", "flick hair", "thumb up",
    "thumb down", "make ok sign", "make victory sign", "staple book", "counting money",
    "cutting nails", "cutting paper (using scissors)", "snapping fingers", "open bottle",
    "sniff (smell)", "squat down", "toss a coin", "fold paper", "ball up paper", "play magic cube",
    "apply cream on face", "apply cream on hand back", "put on bag", "take off bag",
    "put something into a bag", "take something out of a bag", "open a box", "move heavy objects",
    "shake fist", "throw up cap/hat", "hands up (both hands)", "cross arms", "arm circles",
    "arm swings", "running on the spot", "butt kicks (kick backward)", "cross toe touch",
    "side kick", "yawn", "stretch oneself", "blow nose", "hit other person with something",
    "wield knife towards other person", "knock over other person (hit with body)",
    "grab other person's stuff", "shoot at other person with a gun", "step on foot", "high-five",
    "cheers and drink", "carry something with other person", "take a photo of other person",
    "follow other person", "whisper in other person's ear", "exchange things with other person",
    "support somebody with hand", "finger-guessing game (playing rock-paper-scissors)",
)  # fmt: skip
NTU60_CLASSES: tuple[str, ...] = NTU120_CLASSES[:60]

# Two-person (mutual) NTU actions, 1-based A ids: the readers keep 2 bodies for every class
# anyway; this is for analyses and for choosing M.
NTU_MUTUAL_ACTIONS: frozenset[int] = frozenset([*range(50, 61), *range(106, 121)])

UTD_MHAD_CLASSES: tuple[str, ...] = (
    "right arm swipe to the left", "right arm swipe to the right", "right hand wave",
    "two hand front clap", "right arm throw", "cross arms in the chest", "basketball shoot",
    "right hand draw x", "right hand draw circle (clockwise)",
    "right hand draw circle (counter clockwise)", "draw triangle", "bowling (right hand)",
    "front boxing", "baseball swing from right", "tennis right hand forehand swing",
    "arm curl (two arms)", "tennis serve", "two hand push", "right hand knock on door",
    "right hand catch an object", "right hand pick up and throw", "jogging in place",
    "walking in place", "sit to stand", "stand to sit", "forward lunge (left foot forward)",
    "squat (two arms stretch out)",
)  # fmt: skip

# NW-UCLA labels 1..10 are the action codes a01..a06, a08, a09, a11, a12.
NW_UCLA_CLASSES: tuple[str, ...] = (
    "pick up with one hand", "pick up with two hands", "drop trash", "walk around", "sit down",
    "stand up", "donning", "doffing", "throw", "carry",
)  # fmt: skip
NW_UCLA_ACTION_CODES: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)

# Folders 1..14. The data README lists the names in the string order of the folder names (1, 10,
# 11, ..., 2, ..., 9); measured joint motion agrees with that reading (tools/kgt_vs_motion.py), so
# folder k carries the name below, the same as crossglg/text/data/gtu3d.json (matched by id there).
GTU3D_CLASSES: tuple[str, ...] = (
    "opening and closing the arms", "left handed shaking", "one right-left step", "crouching",
    "standing on the sandal", "sit and applause", "lower back", "right and left 8-step motion",
    "neck relaxation", "right handed shaking", "right and left waist stretch", "walking",
    "bend the leg left or right (left leg)", "bend the leg left or right (right leg)",
)  # fmt: skip

IRDS_CLASSES: tuple[str, ...] = (
    "elbow flexion left", "elbow flexion right", "shoulder flexion left", "shoulder flexion right",
    "shoulder abduction left", "shoulder abduction right", "shoulder forward elevation",
    "side tap left", "side tap right",
)  # fmt: skip

# Kinder-Gator: the motion as spelled in the file names (``POSE-p565_01-Raise-your-hand-....csv``),
# in the README's category order (warm-up, exercise, mime, communication). "Throw-a-ball-" keeps the
# files' trailing dash; "Climb-and-imaginary-ladder" is the files' spelling of "climb an imaginary ladder".
KINDER_GATOR_MOTIONS: tuple[str, ...] = (
    # warm-up
    "Raise-your-hand", "Raise-your-other-hand", "Wave-your-hand", "Wave-your-other-hand", "Bow",
    "Raise-your-arm-to-one-side", "Raise-your-arm-to-the-other-side",
    "Bend-your-knee-while-raising-your-leg", "Bend-your-other-knee-while-raising-your-leg",
    # exercise
    "Put-your-hands-on-your-hips-and-lean-to-the-side", "Put-your-hands-on-your-hips-and-lean-to-the-other-side",
    "Put-your-hands-on-your-hips-and-twist", "Touch-your-toes", "Do-a-forward-lunge", "Lift-your-leg-to-one-side",
    "Lift-your-leg-to-the-other-side", "Walk-in-place", "Walk-in-place-as-fast-as-you-can", "Run-in-place",
    "Run-in-place-as-fast-as-you-can", "Jump", "Jump-as-high-as-you-can", "Do-two-jumping-jacks",
    # mime
    "Push-an-imaginary-button-in-front-of-you",
    "Swipe-across-an-imaginary-screen-in-front-of-you-from-left-to-right",
    "Swipe-across-an-imaginary-screen-in-front-of-you-from-right-to-left", "Fly-like-a-bird",
    "Fly-like-an-airplane", "Swim", "Kick-a-ball", "Kick-a-ball-as-far-as-you-can", "Kick-a-ball-with-the-other-leg",
    "Kick-a-ball-as-far-as-you-can-with-the-other-leg", "Throw-a-ball-", "Throw-a-ball-as-far-as-you-can",
    "Throw-a-ball-with-your-other-arm", "Throw-a-ball-as-far-as-you-can-with-the-other-arm", "Punch",
    "Climb-and-imaginary-ladder",
    # communication
    "Point-at-the-camera", "Signal-someone-to-stop", "Signal-someone-to-come-here", "Draw-a-circle",
    "Draw-a-square", "Draw-a-triangle", "Draw-the-letter-A", "Draw-the-letter-C", "Draw-the-letter-K",
    "Draw-the-letter-M", "Draw-the-letter-X", "Make-the-letter-Y", "Make-the-letter-M", "Make-the-letter-C",
    "Make-the-letter-A", "Make-the-letter-K", "Make-the-letter-P", "Make-the-letter-T", "Make-the-letter-X",
)  # fmt: skip
_KG_SPELLING = {"Climb-and-imaginary-ladder": "climb an imaginary ladder"}


def _kg_name(motion: str) -> str:
    """``Draw-the-letter-A`` -> ``draw the letter A`` (letters stay capitals)."""
    words = motion.strip("-").split("-")
    return _KG_SPELLING.get(motion) or " ".join(w if len(w) == 1 and w != "a" else w.lower() for w in words)


KINDER_GATOR_CLASSES: tuple[str, ...] = tuple(_kg_name(m) for m in KINDER_GATOR_MOTIONS)
KINDER_GATOR_GROUPS: dict[str, str] = {"Adults": "adult", "Children": "child"}

# KARD classes a01..a18 (data README, after the source paper).
KARD_CLASSES: tuple[str, ...] = (
    "horizontal arm wave", "high arm wave", "two hand wave", "catch cap", "high throw", "draw x",
    "draw tick", "toss paper", "forward kick", "side kick", "take umbrella", "bend", "hand clap", "walk",
    "phone call", "drink", "sit down", "stand up",
)  # fmt: skip

# Florence 3D classes a01..a09 (data README; "tight lace" is the source's name for tying shoelaces).
FLORENCE_CLASSES: tuple[str, ...] = (
    "wave", "drink from a bottle", "answer phone", "clap", "tight lace", "sit down", "stand up",
    "read watch", "bow",
)  # fmt: skip

# SBU Kinect Interaction folders 01..08. The data README lists the eight interactions in the
# paper's order (approaching, departing, pushing, kicking, punching, exchanging objects, hugging,
# shaking hands), but the folders do not follow it: measured on all 282 files, folder 03 raises a
# foot to hip height (kicking), 04 puts a hand on the partner's torso and he recedes (pushing), 05
# joins the two right hands within 4 cm (shaking hands), 06 brings the torsos within 0.23 m
# (hugging), 07 meets hands at arm's length 1.3 m apart (exchanging objects), 08 brings a hand to
# the partner's head (punching); see docs/datasets.md.
SBU_CLASSES: tuple[str, ...] = (
    "approaching", "departing", "kicking", "pushing", "shaking hands", "hugging", "exchanging objects",
    "punching",
)  # fmt: skip

# MSRC-12 gestures G1..G12, as the tag files name them (MSRC_12_gesture_dataset.pdf gives their
# meaning: e.g. G3 "navigate to next menu", G5 "wind up the music", G9 "protest the music").
MSRC12_CLASSES: tuple[str, ...] = (
    "lift outstretched arms", "duck", "push right", "goggles", "wind it up", "shoot", "bow", "throw",
    "had enough", "change weapon", "beat both", "kick",
)  # fmt: skip

# Dataset key -> class names. "ntu" holds NTU RGB+D 120 (NTU-60 is its first 60 classes).
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "ntu": NTU120_CLASSES,
    "utd_mhad": UTD_MHAD_CLASSES,
    "nw_ucla": NW_UCLA_CLASSES,
    "gtu3d": GTU3D_CLASSES,
    "irds": IRDS_CLASSES,
    "kinder_gator": KINDER_GATOR_CLASSES,
    "kard": KARD_CLASSES,
    "florence": FLORENCE_CLASSES,
    "sbu": SBU_CLASSES,
    "msrc12": MSRC12_CLASSES,
}
DATASETS: tuple[str, ...] = tuple(CLASS_NAMES)

# Frame rates: all are Kinect recordings at 30 fps (UTD-MHAD, NTU and IRDS document it; NW-UCLA
# and GTU use Kinect v1/v2 at their default 30 fps).
FPS: dict[str, float] = {name: 30.0 for name in DATASETS}
# Kinder-Gator's Timestamp column (ms) measures it: 33.35 ms per frame on average over every trial
# (30.0 fps; spacing jitters 30-38 ms). KARD and Florence files carry no time stamps: their Kinect's
# nominal 30 fps is assumed, not measured.
# MSRC-12's timestamps (us): median spacing 33.1 ms (30.2 fps; mean 29.1 fps with a few dropped
# frames). SBU was recorded at 15 fps (the source's paper); its files carry only frame numbers, but
# the motion agrees: approaching walkers peak at 0.83 m/s and punches at 3.6 m/s at 15 fps (1.7 and
# 7.3 m/s, implausibly fast for acted interactions, at 30).
FPS["sbu"] = 15.0


def class_name(dataset: str, label: int) -> str:
    """Name of class ``label`` (0-based) of ``dataset``; ``ValueError`` when out of range."""
    names = CLASS_NAMES.get(dataset)
    if names is None:
        raise ValueError(f"unknown dataset {dataset!r}; known: {list(DATASETS)}")
    if not 0 <= label < len(names):
        raise ValueError(f"{dataset}: label {label} outside 0..{len(names) - 1}")
    return names[label]
