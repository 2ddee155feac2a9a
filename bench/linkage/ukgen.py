#!/usr/bin/env python3
"""ukgen - an independent synthetic UK population generator for measuring
record linkage.

It writes DIR/records.csv with one row per agency record:

    record_id,source,person_id,forename,surname,dob,postcode,nhs_number,pnc_id

person_id is the truth (the real person behind the record); every other column
is what the agency holds, with realistic errors.  See UKGEN.md beside this file
for the population model, the agencies, and every error class with its default
rate.

Python 3.11 standard library only.  Deterministic for a given --seed.

    python3 ukgen.py --people 10000 --seed 1 --out /tmp/ukgen
    python3 ukgen.py --people 5000 --seed 7 --out /tmp/u --error-scale 2 --rate moved=0.3
    python3 ukgen.py --list-rates
    python3 ukgen.py --self-test
"""
from __future__ import annotations

import argparse
import bisect
import csv
import datetime as dt
import hashlib
import math
import os
import random
import re
import sys
import tempfile
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------
# Fixed reference points (fixed so that output never depends on the clock)
# ---------------------------------------------------------------------------

REF_DATE = dt.date(2025, 3, 31)          # "today" for ages and record dates
RECORD_WINDOW_DAYS = 10 * 365 + 2        # records were made in the 10 years up to REF_DATE
EARLIEST_DOB = dt.date(1900, 1, 1)

HEADER = ["record_id", "source", "person_id", "forename", "surname", "dob",
          "postcode", "nhs_number", "pnc_id"]

SOURCES = ["police", "health", "probation", "youth_justice", "childrens_services",
           "adult_social_care", "housing", "community_safety"]

# ---------------------------------------------------------------------------
# Error classes: name -> (default rate, who is eligible).  The rate is the
# probability that an ELIGIBLE record gets the error.  Order matters: it is the
# order in which one uniform number per class is drawn for every record (so a
# larger rate only ever adds errors: the error sets nest as rates grow).
# ---------------------------------------------------------------------------

ERROR_CLASSES: dict[str, tuple[float, str]] = {
    "surname_change":    (0.20,  "records of people with a surname history (maiden/married name, "
                                 "other parent's surname, deed poll)"),
    "hyphen_part":       (0.30,  "records whose surname is double-barrelled, hyphenated or has a "
                                 "particle (De Souza, El Amrani, Al-Masri)"),
    "forename_nickname": (0.08,  "records whose forename has a known short form or alternative spelling"),
    "forename_typo":     (0.035, "records with a forename of 2+ letters"),
    "surname_typo":      (0.030, "records with a surname of 2+ letters"),
    "initial_only":      (0.005, "records with a forename"),
    "name_swap":         (0.005, "records with both names"),
    "dob_day_off":       (0.010, "records with a dob"),
    "dob_digit":         (0.010, "records with a dob"),
    "dob_swap":          (0.010, "records with a dob whose day <= 12 and day != month"),
    "dob_year_off":      (0.008, "records with a dob"),
    "dob_placeholder":   (0.003, "records with a dob not already 1 January"),
    "moved":             (0.20,  "records with a postcode (everyone has an address history)"),
    "postcode_typo":     (0.015, "records with a postcode"),
    "nhs_wrong":         (0.003, "records holding an NHS number"),
    "forename_missing":  (0.005, "records with a forename"),
    "surname_missing":   (0.003, "records with a surname"),
    "dob_missing":       (0.015, "records with a dob"),
    "postcode_missing":  (0.030, "records with a postcode"),
    "nhs_missing":       (0.04,  "health, children's services and adult social care records that "
                                 "would otherwise hold the NHS number"),
    "format_noise":      (0.10,  "every record (case, spaces, apostrophes, accents: NOT a real error)"),
    "postcode_format":   (0.0,   "records with a postcode (lower case / no space / extra space: "
                                 "NOT a real error; off by default)"),
}

# ---------------------------------------------------------------------------
# Agencies: structural coverage (what the agency's system captures at all,
# before any error) and date format.  Not errors, not scaled.
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Agency:
    name: str
    dob_format: str        # "iso" or "dmy"
    p_dob: float           # captures a dob at all
    p_postcode: float      # captures an address (police: no fixed abode / refused)
    p_nhs: float           # captures the NHS number, for a person who has one
    p_pnc: float           # captures the PNC id, for a person who has one
    upper_surname: bool    # system convention: SURNAME IN CAPITALS


AGENCIES = {
    "police":             Agency("police",             "iso", 0.99, 0.88, 0.15, 0.92, True),
    "health":             Agency("health",             "iso", 1.00, 0.98, 1.00, 0.00, False),
    "probation":          Agency("probation",          "iso", 1.00, 0.90, 0.10, 0.85, False),
    "youth_justice":      Agency("youth_justice",      "dmy", 1.00, 0.96, 0.25, 0.55, False),
    "childrens_services": Agency("childrens_services", "iso", 0.97, 0.97, 0.63, 0.00, False),
    "adult_social_care":  Agency("adult_social_care",  "iso", 1.00, 0.98, 0.90, 0.00, False),
    "housing":            Agency("housing",            "dmy", 0.88, 1.00, 0.03, 0.00, False),
    "community_safety":   Agency("community_safety",   "dmy", 0.75, 0.80, 0.02, 0.00, False),
}
NHS_MISSING_SOURCES = {"health", "childrens_services", "adult_social_care"}

# Which agency a record comes from, by the subject's age when it was made.
AGENCY_BY_AGE = [
    # (max age inclusive, {agency: weight})
    (9,   {"health": 0.42, "childrens_services": 0.40, "housing": 0.10, "police": 0.06,
           "community_safety": 0.02}),
    (17,  {"police": 0.26, "health": 0.18, "childrens_services": 0.22, "youth_justice": 0.18,
           "housing": 0.06, "community_safety": 0.10}),
    (24,  {"police": 0.34, "health": 0.22, "probation": 0.12, "housing": 0.13,
           "community_safety": 0.09, "childrens_services": 0.06, "adult_social_care": 0.04}),
    (64,  {"police": 0.28, "health": 0.28, "probation": 0.08, "housing": 0.18,
           "community_safety": 0.06, "adult_social_care": 0.12}),
    (200, {"health": 0.40, "adult_social_care": 0.30, "housing": 0.15, "police": 0.10,
           "community_safety": 0.05}),
]

RECORDS_PER_PERSON = {1: 0.45, 2: 0.22, 3: 0.14, 4: 0.09, 5: 0.06, 6: 0.04}
P_REPEAT_AGENCY = 0.35     # a further record reuses an agency already seen (repeat contact)

# ---------------------------------------------------------------------------
# Postcodes
# ---------------------------------------------------------------------------

_L1 = "ABCDEFGHIJKLMNOPRSTUWYZ"          # not Q V X
_L2 = "ABCDEFGHKLMNOPQRSTUVWXY"          # not I J Z
_L3 = "ABCDEFGHJKPSTUW"                  # 3rd place letter (A9A)
_L4 = "ABEHMNPRVWXY"                     # 4th place letter (AA9A)
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # not C I K M O V
POSTCODE_RE = re.compile(
    r"^(?:[A-PR-UWYZ][0-9]{1,2}|[A-PR-UWYZ][0-9][ABCDEFGHJKPSTUW]|"
    r"[A-PR-UWYZ][A-HK-Y][0-9]{1,2}|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])"
    r" [0-9][ABD-HJLNP-UW-Z]{2}$")

# The "borough": a Kensington & Chelsea-like area and its edges.  Weights are
# shares of households; the north of the borough (W10, W11) is the busiest.
BOROUGH_OUTWARDS = {
    "W10": 0.15, "W11": 0.13, "W8": 0.09, "W14": 0.10, "SW3": 0.07, "SW5": 0.07,
    "SW7": 0.05, "SW10": 0.09, "W2": 0.06, "W12": 0.07, "SW6": 0.05, "SW1X": 0.03,
    "W1H": 0.02, "NW10": 0.02,
}
# Elsewhere: previous / later addresses outside the borough (London, then UK).
OTHER_OUTWARDS = [
    "E1", "E14", "E15", "E17", "N1", "N7", "N17", "N18", "NW1", "NW6", "NW9", "SE1", "SE5",
    "SE15", "SE18", "SW2", "SW9", "SW11", "SW16", "SW19", "W3", "W5", "W6", "W7", "W9",
    "UB3", "UB6", "HA0", "HA9", "TW3", "CR0", "CR7", "BR1", "DA1", "RM10", "IG1", "EN3",
    "KT1", "EC1V", "WC1N", "E1W", "SL1", "LU1", "MK9", "B23", "B8", "M14", "LS6", "BS5",
    "L8", "NG7", "CF24", "G42", "EH6", "BN2", "OX4", "RG1", "SO14", "PO1", "ME4", "CT9",
    "PE1", "CM1", "CO4", "HP1", "WD18", "S3", "NE6", "HU3", "LE2", "DE23", "CV1", "WV1",
]


def valid_postcode(pc: str) -> bool:
    return bool(POSTCODE_RE.match(pc))


def random_inward(rng: random.Random) -> str:
    return f"{rng.randrange(10)}{rng.choice(_INWARD_LETTERS)}{rng.choice(_INWARD_LETTERS)}"


# ---------------------------------------------------------------------------
# NHS number and PNC id
# ---------------------------------------------------------------------------

def nhs_check_digit(first9: str) -> int | None:
    total = sum(int(d) * w for d, w in zip(first9, range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def valid_nhs(s: str) -> bool:
    if len(s) != 10 or not s.isdigit():
        return False
    c = nhs_check_digit(s[:9])
    return c is not None and c == int(s[9])


def random_nhs(rng: random.Random) -> str:
    while True:
        first9 = "999" + f"{rng.randrange(1_000_000):06d}"
        c = nhs_check_digit(first9)
        if c is not None:
            return first9 + str(c)


PNC_LETTERS = "ZABCDEFGHJKLMNPQRTUVWXY"
PNC_RE = re.compile(r"^([0-9]{2})/([0-9]{7})([A-Z])$")


def pnc_id(yy: int, serial: int) -> str:
    return f"{yy:02d}/{serial:07d}{PNC_LETTERS[(yy * 10**7 + serial) % 23]}"


def valid_pnc(s: str) -> bool:
    m = PNC_RE.match(s)
    if not m:
        return False
    yy, serial = int(m.group(1)), int(m.group(2))
    return m.group(3) == PNC_LETTERS[(yy * 10**7 + serial) % 23]


# ---------------------------------------------------------------------------
# Weighted draws
# ---------------------------------------------------------------------------

class Dist:
    """A weighted discrete distribution drawn with one uniform number."""
    __slots__ = ("items", "cum", "total")

    def __init__(self, items, weights):
        self.items = list(items)
        self.cum = []
        t = 0.0
        for w in weights:
            t += w
            self.cum.append(t)
        self.total = t

    def draw(self, rng: random.Random):
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]

    @classmethod
    def of(cls, mapping: dict):
        return cls(mapping.keys(), mapping.values())


def zipf(names: list[str], s: float = 0.75, offset: float = 1.0) -> Dist:
    """Rank-ordered names -> heavy-tailed (Zipf-like) weights."""
    return Dist(names, [1.0 / (i + offset) ** s for i in range(len(names))])


def words(text: str) -> list[str]:
    """Whitespace-separated names; '_' stands for a space inside one name.
    Duplicates are dropped keeping the first (highest-ranked) occurrence."""
    seen, out = set(), []
    for w in text.split():
        w = w.replace("_", " ")
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


# ---------------------------------------------------------------------------
# Names.  Lists are in rough order of frequency; weights are Zipf-like by rank.
# ---------------------------------------------------------------------------

BRITISH_SURNAMES = words("""
Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson
Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Jackson Wood
Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen
James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly
Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Marshall
Anderson Simpson Ellis Adams Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Hunt
Campbell Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell Barker
Fisher Stevens Jenkins Murray Dixon Harvey Graham Pearson Fletcher Walsh Gibson Howard
Andrews Stewart Elliott Reynolds Saunders Payne Fox Ford Pearce Day Brooks West Lawrence
Cole Atkinson Bradley Spencer Dawson Ball Burton O'Brien Watts Rose Booth Perry Ryan
Grant Wells Armstrong Francis Rees Hayes Hart Hudson Newman Barrett Webster Hunter
Gregory Carr Lowe Page Marsh Riley Dunn Woods Parsons Berry Stone Reid Holland Hawkins
Harding Porter Robertson Newton Oliver Reed Kennedy Williamson Bird Gardner Dean Lane
Cooke Bates Henderson Parry Burgess Bishop Walton Burns Nicholson Shepherd Ross Cross
Long Freeman Warren Nicholls Hamilton Byrne Sutton McDonald Yates Hodgson Robson Curtis
Hopkins O'Connor Harper Coleman Watkins Moss McCarthy Chambers O'Neill Griffin Sharp
Hardy Wheeler Potter Osborne Johnston Gordon Doyle Wallace George Jordan Hutchinson
Reeves Fowler Norris Lambert Knowles Stevenson Mann Barber Morton Dennis Jennings Lynch
Brennan Slater Whitehead Hammond Frost Cunningham Thomson Bryant Blake Fraser Pritchard
Kirby Lamb Howells MacDonald Mackenzie Connolly O'Sullivan Quinn Sims Read Summers Vaughan
Waters Fuller Hobbs Goodwin Rowe Steele Howe Kemp Jarvis Dale Conway Birch Sanders Wade
""")

# Long tail: English place-name style compounds (most are real surnames).
BRITISH_TAIL_HEAD = words("""Ash Black Brad Brook Crom Fair Green Hart Hol Lang Mar Mid
North Ox Pen Ray Red Shel Stan Thorn Wal West Whit Wood Brom Cald Hay Stock Rad Bar Lin
Hather Ather Chad Ed Hun Kings Lee Mel Sal Sel Win Wy Al Bright Cran Dar Hamp Ack Bick
Birk Bland Brace Brent Burn Cart Chester Clay Cope Dun Elm Fen Gold Hack Haw Hens Kirk
Lock Marl Mill Moor Nether Pick Pres Rams Rud Sand Skel Stan Sut Tad War
Wether Wolver""")
BRITISH_TAIL_TAIL = words("""ley ton ford worth wood field ham by well more combe stone
bridge den hurst shaw thorpe wick dale ington cliffe land brook stead cote burn bury
grave holme lock low mere ridge""")

IRISH_SURNAMES = words("""Murphy Kelly O'Brien O'Sullivan Walsh Byrne Ryan O'Connor O'Neill
Doyle McCarthy Gallagher Doherty Kennedy Lynch Murray Quinn Moore McLaughlin Carroll
Connolly Daly O'Connell Brennan Burke Fitzgerald Fitzpatrick Flynn O'Reilly Sweeney Keane
Maguire Kavanagh Nolan Power Dunne Hogan Regan O'Donnell McGrath Duffy Farrell""")

CARIBBEAN_SURNAMES = words("""Campbell Brown Williams Thomas Francis Grant Reid Henry Clarke
Morgan Johnson Lewis Joseph Charles Gordon Richards Bailey Wright Robinson Edwards James
Stewart Murray Samuels Benjamin Alexander Douglas Daley Powell Bennett Barrett Forbes Blake
Simpson Phillips McKenzie Graham Hylton Gayle Bent Dacres Beckford Grizzle Nelson Walters""")

WEST_AFRICAN_SURNAMES = words("""Okafor Adeyemi Mensah Okonkwo Owusu Adebayo Boateng Kamara
Olawale Asante Eze Osei Nwosu Appiah Ogunleye Bello Balogun Darko Akinola Conteh Oladipo
Agyeman Chukwu Sesay Obi Addo Okoro Bangura Ansah Koroma Amoah Jalloh Kanu Kargbo Ogunbiyi
Afolabi Adeleke Olaniyan Ibrahim Abubakar Danjuma Ugwu Onyeka Nwachukwu Okeke Anyanwu Igwe
Ojo Bankole Oyewole Fashola Coker""")
YORUBA_HEAD = words("Ade Ola Olu Oye Ogun Akin Ayo Fola Ibi Oni")
YORUBA_TAIL = words("bayo yemi wale seun tunde kunle bisi bola dele lade goke sola tola femi niyi dipo yinka mola")

EAST_AFRICAN_SURNAMES = words("""Mohamed Ali Abdi Hassan Farah Warsame Yusuf Omar Osman Ahmed
Jama Hirsi Egal Duale Adan Aden Ibrahim Nur Hussein Mohamud Abdullahi Ismail Elmi Gedi
Haile Tesfaye Berhane Gebre Tekle Kidane Mehari""")

ARAB_SURNAMES = words("""Hassan Ibrahim Mahmoud Ahmed Mohammed Abdullah Ali Benali Said
Bouzid Saleh El_Amrani El_Idrissi Alaoui Haddad Khalil Mansour Nasser Saleh Hussein Omar Said Aziz Karim
Al-Masri Al-Sayed Bennani Tazi Al-Hashimi Al-Rashid Zaidi Saad Jaber Hamdan Othman Farouk
Najjar Khoury Darwish Bakri El_Khatib Ait_Ali Boukhari Amrani Benjelloun Al-Amin""")

IRANIAN_SURNAMES = words("""Hosseini Ahmadi Mohammadi Rezaei Karimi Moradi Jafari Rahimi
Tehrani Hashemi Sadeghi Kazemi Rostami Ebrahimi Ghorbani Shahidi Mousavi Azizi Amini Nazari
Farahani Esfahani Shirazi Najafi Bagheri""")

SOUTH_ASIAN_MUSLIM_SURNAMES = words("""Khan Ahmed Ali Hussain Rahman Islam Uddin Miah Hossain
Akhtar Iqbal Mahmood Shah Butt Malik Chaudhry Raza Rashid Choudhury Sheikh Qureshi Aziz
Mirza Anwar Siddiqui Ahmad Haque Karim Alam Chowdhury Mohammed Zaman Ullah Javed Akram
Aslam Hanif Latif Nawaz Yousaf Saleem""")

INDIAN_SURNAMES = words("""Patel Shah Sharma Gupta Kumar Mehta Joshi Desai Parmar Mistry
Chauhan Pillai Nair Iyer Reddy Rao Varma Verma Bhatt Modi Thakkar Lad Solanki Jadeja Raval
Pandya Trivedi Kapoor Malhotra Chopra Arora Bhatia D'Souza Fernandes Pereira Rodrigues
D'Costa Menon Naidoo""")

SIKH_SURNAMES = words("""Gill Sandhu Sidhu Dhillon Bains Virdi Johal Grewal Sahota Kang
Atwal Bhogal Chahal Dhaliwal Hundal Kalsi Mann Nijjar Rai Sangha Sohal Thind Uppal""")

CHINESE_SURNAMES = words("""Chen Wang Li Zhang Liu Wong Chan Cheung Lam Ng Ho Yang Huang
Zhou Wu Lin Leung Tang Lau Yip Kwok Tsang Cheng Ma Sun Zhao Xu Lo Chow Yeung Choi Fung
Tran Nguyen Pham Le Hoang Vu""")

FILIPINO_SURNAMES = words("""Santos Reyes Cruz Garcia Bautista Ocampo Mendoza Torres
Villanueva Ramos Aquino Castillo Dela_Cruz De_Leon Fernandez Gonzales Lopez Manalo Navarro
Pascual""")

POLISH_SURNAMES = words("""Nowak Kowalski Wisniewski Wojcik Kowalczyk Kaminski Lewandowski
Zielinski Szymanski Wozniak Dabrowski Kozlowski Jankowski Mazur Kwiatkowski Krawczyk
Piotrowski Grabowski Nowakowski Pawlowski Michalski Nowicki Adamczyk Dudek Zajac Wieczorek
Jablonski Krol Majewski Olszewski Jaworski Wrobel Malinowski Pawlak Witkowski Walczak
Stepien Gorski Rutkowski Michalak""")
POLISH_HEAD = words("Adam Bor Char Jan Kam Kow Lis Mal Pawl Sob Wal Zaw Grab Mich Piotr Tomasz Wojc Szyman Kaczm Sikor Stan")
POLISH_TAIL = words("owski ewski inski ak czyk ek icz iak arek")

ROMANIAN_SURNAMES = words("""Popescu Ionescu Popa Radu Stan Dumitru Munteanu Rusu Constantin
Stoica Gheorghe Matei Ciobanu Marin Tudor Florea Dinu Moldovan Serban Lungu Dobre Barbu
Nistor Ilie Toma Sandu Mihai Cristea Vasile Ene Oprea Lazar Ursu Zamfir Moraru Diaconu""")

IBERIAN_SURNAMES = words("""Silva Santos Ferreira Pereira Costa Rodrigues Martins Fernandes
Gomes Lopes Goncalves Oliveira Sousa Alves Garcia Rodriguez Martinez Lopez Gonzalez
Hernandez Sanchez Perez Ribeiro Carvalho Pinto Teixeira Moreira Correia Mendes Nunes Soares
Vieira Gomez Diaz Torres Ramirez Ruiz Morales Jimenez Alvarez Romero Castro Vargas Munoz
Da_Silva Dos_Santos De_Souza De_Oliveira Da_Costa""")

ITALIAN_SURNAMES = words("""Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino
Greco Bruno Gallo Conti De_Luca Mancini Costa Giordano Rizzo Lombardi Moretti Barbieri
Fontana Santoro Mariani Rinaldi Caruso Ferrara Galli Martini Leone Longo Gentile Martinelli
Vitale Lombardo Serra Coppola De_Santis D'Angelo Marchetti""")

# British forenames by birth cohort: before 1965, 1965-1994, 1995 on.
BRITISH_M = {
    "old": words("""John David Michael Peter Robert William James Richard Alan Brian Kenneth
Geoffrey Ronald Derek Keith George Anthony Colin Roy Stephen Christopher Graham Trevor
Barry Terence Raymond Frank Dennis Leslie Harold Arthur Douglas Eric Malcolm Norman Roger
Philip Patrick Martin Ian Edward Thomas Charles Gordon Francis Frederick Albert Stanley
Leonard Ernest Clifford Gerald Victor Bernard Harry Walter Alfred Cyril Sidney Herbert Ralph
Reginald Percy Jack Wilfred Maurice Gilbert Howard Neville Clive Lionel Nigel Timothy Jeremy
Hugh Adrian Julian Tony Rodney Vincent Laurence Bryan Alec Desmond Jeffrey Donald Samuel"""),
    "mid": words("""David Paul Mark Andrew Michael Christopher James Daniel Matthew Richard
Steven Stephen Lee Darren Craig Jason Wayne Gary Dean Neil Simon Robert Thomas Adam
Jonathan Kevin Anthony Carl Shaun Ryan Scott Benjamin Luke Jamie Martin Stuart Nicholas
Peter Ian Philip Sean Liam Kieran Gareth Ashley Jack Alexander Samuel Joseph Lewis Nathan
Aaron Jordan Callum Timothy Gavin Glen Marc Russell Graham Dominic Alastair Duncan Barry
Trevor Warren Lloyd Rhys Owen Gregory Jeremy Toby Robin Nigel Julian Justin Damian Dale
Mitchell Nathaniel Grant Ross Kyle Christian Oliver Edward George Harry Joshua Jake Bradley
Leon Marcus Tony Keith Colin Terry Mathew Jason Elliot"""),
    "new": words("""Oliver Jack Harry George Noah Charlie Jacob Alfie Freddie Oscar Leo Thomas
Joshua William James Archie Henry Theo Max Lucas Ethan Arthur Isaac Samuel Joseph Daniel
Alexander Logan Mason Riley Finley Harrison Edward Sebastian Tyler Dylan Jayden Reuben Kai
Louie Lewis Callum Kieran Connor Ryan Liam Jake Luke Benjamin Nathan Jordan Brandon Ellis
Toby Elliot Ronnie Tommy Zachary Matthew Adam Rory Hugo Jude Albie Frankie Stanley Teddy
Bobby Jenson Hunter Jesse Harvey Ezra Elijah Caleb Felix Rowan Ollie Aiden Spencer Morgan
Owen Rhys Bradley Charles Harley Kian Marley Tobias Arlo Ralph Sonny Albert Ashton Leon
Jamie Cameron Declan Aaron Frederick Luca Joel Jasper Kayden"""),
}
BRITISH_F = {
    "old": words("""Margaret Patricia Susan Mary Jean Barbara Sheila Christine Elizabeth
Linda Janet Carol Maureen Joan Pauline Sandra Valerie Brenda Doreen Dorothy Irene Joyce
Kathleen Pamela Jennifer Ann Anne Gillian Shirley Julie Hilary Janice Marion Wendy Lesley
Rosemary Helen Judith Jacqueline Diane Beryl Eileen Audrey Betty Sylvia Marjorie Teresa
Deborah Angela Lynda Edna Gladys Vera Ivy Elsie Hilda Mildred Phyllis Lilian Violet Rose
Evelyn Ethel Winifred Muriel Rita Gwen Sally Josephine Frances Veronica Yvonne Lorraine
Elaine Caroline Gail Jill Heather Hazel June Anita Carole Glenys Gloria Stella Judy"""),
    "mid": words("""Sarah Claire Emma Nicola Lisa Michelle Helen Rachel Karen Joanne Louise
Laura Gemma Rebecca Kelly Amanda Samantha Jennifer Victoria Stephanie Katherine Catherine
Elizabeth Hannah Charlotte Amy Lucy Natalie Kirsty Donna Tracey Dawn Julie Deborah Jessica
Zoe Danielle Kerry Leanne Stacey Jade Jodie Hayley Lauren Sophie Kate Anna Caroline Alison
Joanna Lindsay Abigail Tracy Sharon Angela Natasha Melanie Kathryn Suzanne Maria Jane Anne
Sally Ruth Fiona Clare Vanessa Carly Kimberley Sian Holly Heather Jenny Megan Chloe Eleanor
Harriet Alice Georgina Katy Lindsey Charlene Shelley Tanya Abbie Ellie Jasmine Emily Rosie"""),
    "new": words("""Olivia Amelia Isla Ava Emily Sophia Grace Mia Poppy Ella Lily Evie Isabella
Sophie Ivy Freya Harper Willow Charlotte Jessica Chloe Daisy Phoebe Florence Alice Ruby
Matilda Scarlett Millie Holly Lucy Megan Hannah Lauren Emma Ellie Amber Erin Katie Jasmine
Abigail Eleanor Maisie Layla Evelyn Elsie Rosie Esme Imogen Niamh Courtney Shannon Paige
Bethany Georgia Leah Zoe Sienna Maya Lola Eva Aria Nancy Violet Arabella Rose Darcie Orla
Heidi Lottie Elizabeth Victoria Madison Summer Brooke Molly Olive Ada Hallie Lilly Aimee
Abbie Tilly Lexi Eliza Beatrice Iris Thea Mila Penelope Emilia Keira Tia Demi Chelsea
Kayleigh Caitlin Rebecca Libby Gracie"""),
}

FORENAMES = {  # group -> (male list, female list) for groups without cohorts
    "irish": (words("""Sean Patrick Michael Liam Conor Ciaran Declan Padraig Eoin Niall Cian
Oisin Darragh Seamus Colm Fergal Cormac Ronan Brendan Dermot Eamon Kieran Aidan Tadhg"""),
              words("""Siobhan Aoife Niamh Ciara Sinead Roisin Mary Bridget Orla Grainne Maeve
Caoimhe Aisling Deirdre Eileen Mairead Clodagh Saoirse Aine Fionnuala Nuala Bernadette""")),
    "caribbean": (words("""Jermaine Tyrone Leon Marcus Andre Delroy Winston Errol Clive Lloyd
Everton Wayne Kemar Kareem Jamal Tyrese Kyle Jordan Reece Shaquille Dwayne Devon Omari
Marlon Trevor Junior Rohan Nathaniel Isaiah Elijah Josiah Malachi Zion Jaden"""),
                  words("""Shanice Marcia Beverley Jasmine Kezia Tanisha Aaliyah Chantelle Simone
Keisha Monique Natasha Shantelle Latoya Janet Hyacinth Pauline Claudette Sharon Jada Amaya
Nia Imani Tiana Jayda Kayla Maya""")),
    "west_african": (words("""Emmanuel Samuel David Daniel Joshua Oluwaseun Chinedu Emeka
Babatunde Kwame Kofi Kwabena Yaw Ibrahim Abdul Olumide Oluwatobi Oluwafemi Chukwuemeka
Adebayo Segun Kehinde Taiwo Kayode Obinna Ikenna Chidi Uche Nnamdi Kelechi Mohamed Alhaji
Idris Ayodele Ebuka Oluwadamilare"""),
                     words("""Precious Blessing Grace Esther Deborah Favour Mercy Chioma Ngozi
Funmilayo Abena Akosua Adwoa Comfort Folasade Oluwatoyin Adaeze Chiamaka Amara Ifeoma
Nneka Temitope Bukola Yetunde Abimbola Adunni Efua Ama Fatmata Isatu Mariama Kadiatu
Aminata Princess Joy Kehinde Taiwo""")),
    "east_african": (words("""Mohamed Abdi Abdullahi Ahmed Ali Hassan Yusuf Omar Abdirahman
Abdirashid Mustafa Ismail Liban Bashir Hamza Yonas Dawit Tesfaye Samuel Filmon Mahad
Mukhtar Guled Sharmarke"""),
                     words("""Hodan Hibo Amina Fadumo Sahra Ayaan Nimco Faduma Halima Khadra Ubah
Asha Ifrah Ikran Muna Deeqa Saida Hanna Helen Selam Yordanos Ruth Senait Mahlet""")),
    "arab": (words("""Mohammed Mohamed Ahmed Youssef Omar Khalid Karim Samir Rachid Mustafa
Hamid Ali Hassan Ibrahim Adam Yassin Ayoub Mehdi Bilal Hicham Nabil Tariq Walid Faisal Ziad
Amir Zakaria Anas Said Rami Sami"""),
             words("""Fatima Amina Khadija Layla Nour Yasmin Salma Sara Mariam Leila Zainab
Hanan Samira Zahra Rania Lina Nadia Houda Imane Sanaa Malak Jana Hiba Dina Rim Farah Souad
Naima""")),
    "iranian": (words("""Reza Ali Mohammad Hossein Amir Mehdi Hamid Saeed Dariush Kourosh Arash
Babak Farhad Behnam Omid Navid Parsa Kian Shahram Bijan"""),
                words("""Maryam Zahra Fatemeh Sara Leila Shirin Parisa Neda Nazanin Roya Mina
Azadeh Samira Golnaz Yasaman Ladan Mahsa Niloufar Shadi Bahar""")),
    "south_asian_muslim": (words("""Mohammed Muhammad Ahmed Ali Hassan Hussain Ibrahim Yusuf
Omar Bilal Imran Zain Ayaan Adam Abdul Rayyan Hamza Usman Tariq Faisal Shahid Rashid
Mohammad Arif Asif Kamran Nadeem Zubair Sajid Abdullah Ismail Amir Shakil Jamal Mizanur
Anwar Rubel Shahin Sohel"""),
                           words("""Fatima Aisha Ayesha Maryam Zara Amina Hafsa Khadija Nadia
Samina Shazia Nazia Ruksana Shahida Sumaya Inaya Hania Safa Aleena Iqra Anisa Sadia Farzana
Nasreen Rehana Tahmina Jannat Sabrina Yasmin Hina Sana Mahira Aleesha Salma""")),
    "indian": (words("""Raj Ravi Amit Sanjay Rahul Arjun Vikram Sunil Anil Deepak Rohan Aarav
Dev Krishan Nikhil Vijay Ashok Rajesh Suresh Mahesh Dinesh Kiran Jay Neil Vivek Pranav
Ishaan Rishi Hitesh Nilesh Pradeep"""),
               words("""Priya Anjali Pooja Neha Sunita Meera Asha Kiran Anita Nisha Divya Riya
Aanya Kavita Rekha Geeta Usha Shilpa Sonia Jaya Radhika Leela Hema Bhavna Hetal Komal
Sapna Ria Diya Saanvi Maya""")),
    "sikh": (words("""Harpreet Gurpreet Manpreet Jaspal Rajinder Sukhwinder Jasvinder Ravinder
Harjit Kuldeep Paramjit Amarjit Balwinder Jaswinder Gurdeep Navdeep Arjan Jasdeep Harvinder
Satnam Gurjit Karan Amandeep Simranjit"""),
             words("""Harpreet Gurpreet Manpreet Jaspreet Simran Navdeep Rupinder Amandeep
Kirandeep Parminder Sukhjit Rajwinder Baljit Jasleen Harleen Gurleen Amrit Kulwinder
Balvinder Mandeep Sukhdeep Rajvir Jasmeet""")),
    "chinese": (words("""Wei Jun Hao Ming Jian Lei Yi Jie Tao Bo Kevin Jason Michael David Tony
Kenny Raymond Alan Ka_Wai Chi_Ming Ho_Yin Kit Wing"""),
                words("""Mei Li Xin Ying Hui Jing Yan Lin Xiao Fang Ting Jennifer Grace Amy Michelle
Vivian Winnie Cindy Joyce Wing_Yan Siu_Ling Ka_Yan Mei_Ling""")),
    "filipino": (words("""Jose Juan Mark John Michael Joseph Christian Angelo Paolo Rommel
Jerome Carlo Miguel Ramon Noel"""),
                 words("""Maria Ana Grace Joy Maricel Rowena Jocelyn Cristina Liza Marites
Kristine Angelica Princess Cherry Rosalie Mylene Jasmine""")),
    "polish": (words("""Piotr Krzysztof Tomasz Pawel Michal Marcin Jakub Kamil Lukasz Mateusz
Adam Bartosz Grzegorz Wojciech Marek Andrzej Rafal Dawid Szymon Filip Jan Maciej Damian
Przemyslaw Sebastian Patryk Artur Robert Dariusz Janusz"""),
               words("""Anna Katarzyna Agnieszka Magdalena Joanna Monika Aleksandra Natalia Zofia
Julia Karolina Ewa Justyna Marta Malgorzata Barbara Dorota Beata Paulina Patrycja Kinga
Weronika Oliwia Maja Zuzanna Izabela Iwona Sylwia""")),
    "romanian": (words("""Andrei Alexandru Ionut Mihai Florin Gabriel Cristian Stefan Adrian
Marius Bogdan Vasile Ion Nicolae Daniel Constantin Gheorghe Razvan Catalin Sorin Lucian
Ciprian Dumitru Vlad Costel"""),
                 words("""Ioana Elena Maria Andreea Alexandra Mihaela Florentina Daniela Gabriela
Cristina Ana Adriana Nicoleta Roxana Alina Simona Loredana Georgiana Bianca Larisa Denisa
Raluca Madalina Oana""")),
    "iberian": (words("""Joao Jose Carlos Luis Miguel Antonio Pedro Rui Tiago Diego Manuel
Francisco Paulo Nuno Ricardo Sergio Javier Alejandro Pablo Andres Juan Fernando Bruno
Rafael Hugo Goncalo Duarte Mateo Santiago Jorge"""),
                words("""Maria Ana Ines Sofia Beatriz Carla Lucia Paula Isabel Rosa Carmen Marta
Laura Joana Catarina Rita Mariana Daniela Claudia Patricia Valentina Camila Gabriela Andrea
Elena Raquel Filipa Teresa Sara Alba""")),
    "italian": (words("""Marco Luca Giuseppe Alessandro Francesco Giovanni Andrea Matteo
Lorenzo Davide Stefano Roberto Antonio Paolo Simone Federico Riccardo Gianluca Salvatore
Fabio Leonardo Tommaso Enzo Massimo"""),
                words("""Giulia Francesca Chiara Sara Martina Alessia Valentina Federica Elisa
Silvia Laura Elena Giorgia Anna Maria Paola Sofia Aurora Beatrice Ginevra Alice Roberta
Serena Ilaria""")),
}


@dataclass
class Group:
    """A name-origin group: how a household's names are drawn."""
    share: float                 # share of households in the borough
    surnames: list[str]
    s: float = 0.75              # Zipf exponent of surnames
    british_forenames: float = 0.0   # chance a forename comes from the British lists instead
    british_surnames: float = 0.0    # chance a surname comes from the British lists instead
    tail: tuple | None = None    # (share, heads, tails) compositional rare surnames
    female_override: dict = field(default_factory=dict)   # adult women: surname -> prob
    male_override: dict = field(default_factory=dict)
    gendered: bool = False       # Polish -ski/-ska


GROUPS = {
    "british":            Group(0.44, BRITISH_SURNAMES, 0.65, 1.0,
                                tail=(0.58, BRITISH_TAIL_HEAD, BRITISH_TAIL_TAIL)),
    "irish":              Group(0.04, IRISH_SURNAMES, 0.7, 0.40),
    "caribbean":          Group(0.06, CARIBBEAN_SURNAMES, 0.5, 0.35, british_surnames=0.45),
    "west_african":       Group(0.05, WEST_AFRICAN_SURNAMES, 0.5, 0.15,
                                tail=(0.30, YORUBA_HEAD, YORUBA_TAIL)),
    "east_african":       Group(0.03, EAST_AFRICAN_SURNAMES, 0.8, 0.02),
    "arab":               Group(0.05, ARAB_SURNAMES, 0.7, 0.05),
    "iranian":            Group(0.02, IRANIAN_SURNAMES, 0.7, 0.10),
    "south_asian_muslim": Group(0.05, SOUTH_ASIAN_MUSLIM_SURNAMES, 0.85, 0.05,
                                female_override={"Begum": 0.25, "Bibi": 0.05, "Khatun": 0.05,
                                                 "Sultana": 0.03}),
    "indian":             Group(0.03, INDIAN_SURNAMES, 0.9, 0.10),
    "sikh":               Group(0.015, SIKH_SURNAMES, 0.6, 0.05,
                                female_override={"Kaur": 0.45}, male_override={"Singh": 0.30}),
    "chinese":            Group(0.025, CHINESE_SURNAMES, 0.85, 0.40),
    "filipino":           Group(0.01, FILIPINO_SURNAMES, 0.7, 0.20),
    "polish":             Group(0.035, POLISH_SURNAMES, 0.6, 0.10, gendered=True,
                                tail=(0.35, POLISH_HEAD, POLISH_TAIL)),
    "romanian":           Group(0.02, ROMANIAN_SURNAMES, 0.7, 0.05),
    "iberian":            Group(0.04, IBERIAN_SURNAMES, 0.65, 0.10),
    "italian":            Group(0.02, ITALIAN_SURNAMES, 0.65, 0.10),
}
GROUP_DIST = Dist.of({g: v.share for g, v in GROUPS.items()})

_SURNAME_DISTS = {g: zipf(v.surnames, v.s) for g, v in GROUPS.items()}
_FORENAME_DISTS = {}
for _g, (_m, _f) in FORENAMES.items():
    _FORENAME_DISTS[(_g, "M")] = zipf(_m, 0.6)
    _FORENAME_DISTS[(_g, "F")] = zipf(_f, 0.6)
for _era in ("old", "mid", "new"):
    _FORENAME_DISTS[("british", "M", _era)] = zipf(BRITISH_M[_era], 0.45)
    _FORENAME_DISTS[("british", "F", _era)] = zipf(BRITISH_F[_era], 0.45)

PARTICLES = {"De", "Da", "Dos", "Del", "Dela", "El", "Al", "Ait", "Van", "Von", "Le", "La",
             "Di", "Du", "Abu", "Ben", "Bin"}

# ---------------------------------------------------------------------------
# Name variation tables
# ---------------------------------------------------------------------------

def _table(text: str) -> dict[str, list[str]]:
    out = {}
    for entry in text.split("|"):
        entry = entry.strip()
        if not entry:
            continue
        key, vals = entry.split(":")
        out[key.strip()] = [v.replace("_", " ") for v in vals.split()]
    return out


# Short forms and alternative spellings (forename_nickname).
NICKNAMES = _table("""
William: Bill Will Billy Liam | Robert: Bob Rob Bobby Robbie | Richard: Rick Rich Dick Ricky |
James: Jim Jimmy Jamie | John: Jack Johnny Jon | Jonathan: Jon Jonny | Thomas: Tom Tommy |
Michael: Mike Mick Micky | Christopher: Chris Kit | Anthony: Tony Ant | Andrew: Andy Drew |
Daniel: Dan Danny | Matthew: Matt | Joseph: Joe Joey | Samuel: Sam Sammy | Benjamin: Ben Benny |
Alexander: Alex Xander Sasha | Edward: Ed Eddie Ted Ned | Charles: Charlie Chas | Charlie: Charles |
Frederick: Fred Freddie | Freddie: Frederick Freddy | Alfie: Alfred | Nicholas: Nick Nicky |
Stephen: Steve Steven | Steven: Steve Stephen | David: Dave Davey | Peter: Pete | Kenneth: Ken Kenny |
Ronald: Ron Ronnie | Timothy: Tim | Patrick: Pat Paddy | Leonard: Len Lenny | Henry: Harry Hal |
Harry: Henry | Oliver: Ollie | Joshua: Josh | Zachary: Zach Zak | Jacob: Jake | Gerald: Gerry |
Terence: Terry | Raymond: Ray | Leslie: Les | Douglas: Doug | Philip: Phil Phillip | Gareth: Gaz |
Lewis: Louis | Callum: Calum | Jayden: Jaden Jaiden | Elliot: Elliott | Sean: Shaun Shawn | Shaun: Sean |
Elizabeth: Liz Beth Betty Lizzie Eliza | Katherine: Kate Katie Kathy Kat Catherine Kathryn |
Catherine: Cathy Kate Katherine Kathryn | Margaret: Maggie Peggy Meg | Patricia: Pat Trish Tricia |
Susan: Sue Susie | Jennifer: Jenny Jen | Rebecca: Becky Becca | Victoria: Vicky Tori |
Samantha: Sam Sammy | Alexandra: Alex Sasha | Deborah: Debbie Debra Deb | Jacqueline: Jackie |
Christine: Chris Christina | Pamela: Pam | Abigail: Abi Abby | Eleanor: Ellie Nell Elinor |
Amelia: Millie Amy | Isabella: Bella Izzy Isabel | Olivia: Liv Livvy | Charlotte: Lottie Charlie |
Jessica: Jess Jessie | Stephanie: Steph | Natalie: Nat Nathalie | Sophie: Sophia Sofie |
Sophia: Sophie Sofia | Zoe: Zoey | Gemma: Jemma | Leanne: Lianne | Hayley: Haley | Lindsay: Lindsey |
Kirsty: Kirstie | Teresa: Theresa Tess | Dorothy: Dot Dottie | Joanne: Jo Joanna | Nicola: Nicky Nikki |
Louise: Lou | Amanda: Mandy | Sandra: Sandy | Kathleen: Kath Kathy | Jasmine: Jasmin Yasmin |
Mohammed: Muhammad Mohamed Mohammad Muhammed Mohd Mo | Mohamed: Mohammed Mohamud Mohamad |
Muhammad: Mohammed Mohammad Muhammed | Mohammad: Mohammed Muhammad | Ahmed: Ahmad | Hussain: Hussein Husain |
Hassan: Hasan | Yusuf: Yousef Youssef Yusef | Youssef: Yusuf Yousef | Ibrahim: Ebrahim | Omar: Umar |
Usman: Osman | Abdullah: Abdallah | Abdullahi: Abdulahi | Abdirahman: Abdi | Aisha: Ayesha Aysha |
Ayesha: Aisha | Fatima: Fatma Fatimah | Maryam: Mariam Miriam | Mariam: Maryam | Khadija: Khadijah |
Zainab: Zaynab | Layla: Leila Laila | Leila: Layla Laila | Nour: Noor | Yasmin: Yasmine Jasmine |
Rachid: Rashid | Mustafa: Mostafa | Faduma: Fadumo | Fadumo: Faduma | Sahra: Sara Zahra |
Oluwaseun: Seun | Oluwatobi: Tobi | Oluwafemi: Femi | Olumide: Mide | Babatunde: Tunde |
Chukwuemeka: Emeka | Oluwadamilare: Dami | Folasade: Sade | Oluwatoyin: Toyin | Adebayo: Bayo |
Abimbola: Bimbo | Temitope: Tope | Oluwaseyi: Seyi | Kwabena: Kobby | Emmanuel: Manny |
Piotr: Peter | Krzysztof: Chris Krzys | Pawel: Paul | Michal: Michael | Tomasz: Tom Tomek |
Jakub: Kuba Jacob | Katarzyna: Kasia Kate | Magdalena: Magda | Aleksandra: Ola Alex |
Agnieszka: Aga | Malgorzata: Gosia | Wojciech: Wojtek | Lukasz: Luke | Mateusz: Matt |
Alexandru: Alex | Ionut: Ion | Andreea: Andrea | Siobhan: Shiv Chevonne | Niamh: Neve |
Ciaran: Kieran | Padraig: Patrick | Sinead: Shinead | Mei: May | Harpreet: Harry | Gurpreet: Gary |
Jaspal: Jas | Manpreet: Manny | Rajinder: Raj | Sukhwinder: Sukhi | Jasvinder: Jas | Ravinder: Rav |
Rupinder: Ruby | Sanjay: Sunny | Joao: John | Francesco: Frank | Giuseppe: Joe Peppe |
Alessandro: Alex Sandro | Antonio: Tony Anthony | Francisco: Paco | Jose: Joe Josef
""")

# Surname spelling variants (used by surname_typo as its 'phonetic' option).
SURNAME_VARIANTS = _table("""
Smith: Smyth | Thompson: Thomson | Thomson: Thompson | Phillips: Philips | Clarke: Clark |
Clark: Clarke | Reid: Reed Read | Reed: Reid Read | Gray: Grey | Matthews: Mathews |
Stephenson: Stevenson | Stevenson: Stephenson | Davies: Davis | Davis: Davies | Brown: Browne |
Green: Greene | Lloyd: Loyd | Allen: Allan Alan | Stewart: Stuart | McDonald: MacDonald Macdonald |
MacDonald: McDonald | Mackenzie: McKenzie | McKenzie: Mackenzie | O'Reilly: Reilly Riley |
Doherty: Dougherty | Hussain: Hussein Husain Hossain | Hossain: Hussain | Mohamed: Mohammed Mohamud |
Mohammed: Mohamed Muhammad | Ahmed: Ahmad | Ahmad: Ahmed | Chaudhry: Chaudhary Choudhury |
Choudhury: Chowdhury Chaudhry | Chowdhury: Choudhury | Rahman: Rehman | Miah: Mia Meah |
Qureshi: Kureshi | Mensah: Mensa | Boateng: Boatang | Chan: Chen | Chen: Chan | Lee: Li |
Li: Lee | Nguyen: Ngyuen | Kowalski: Kovalski | Wojcik: Wojcic | Popescu: Popesku |
Abdi: Abdy | Farah: Farrah | Ibrahim: Ebrahim | Yusuf: Yousef | Sesay: Sessay | Kamara: Camara |
Okafor: Okafo | Sousa: Souza | De Souza: D'Souza De Sousa | D'Souza: De Souza Dsouza |
Gonzalez: Gonzales | Rodriguez: Rodrigues | Rodrigues: Rodriguez | Fernandes: Fernandez |
Jeffries: Jefferies | Hewitt: Hewett | Philips: Phillips | Mathews: Matthews | Reynolds: Renolds |
Shepherd: Sheppard Shepard | Harvey: Harvie | Hayes: Hays | Ellis: Elis | Griffiths: Griffith |
Owen: Owens | Jenkins: Jenkin | Rees: Reece Rhys | Evans: Evens | Francis: Frances |
Nicholls: Nichols | Nicholson: Nicolson | Anderson: Andersen | Johnson: Johnston Jonson |
Johnston: Johnson | Hughes: Hughs | Murphy: Murphey | Kelly: Kelley | Byrne: Burn Byrnes
""")

# Accented spellings used by format_noise (all decompose under Unicode NFD).
ACCENTS = _table("""
Jose: José | Sean: Seán | Chloe: Chloë | Zoe: Zoë | Renee: Renée | Noel: Noël | Andre: André |
Rene: René | Ines: Inês | Joao: João | Sian: Siân | Sinead: Sinéad | Padraig: Pádraig |
Roisin: Róisín | Grainne: Gráinne | Seamus: Séamus | Ciaran: Ciarán | Oisin: Oisín |
Aine: Áine | Lucia: Lucía | Andres: Andrés | Ramon: Ramón | Goncalo: Gonçalo | Stefan: Ștefan |
Ionut: Ionuț | Razvan: Răzvan | Catalin: Cătălin | Madalina: Mădălina | Jesus: Jesús |
Lopez: López | Garcia: García | Gonzalez: González | Hernandez: Hernández | Rodriguez: Rodríguez |
Martinez: Martínez | Perez: Pérez | Sanchez: Sánchez | Goncalves: Gonçalves | Munoz: Muñoz |
Gomez: Gómez | Diaz: Díaz | Ramirez: Ramírez | Jimenez: Jiménez | Alvarez: Álvarez |
Wojcik: Wójcik | Krol: Król | Gorski: Górski | Stepien: Stępień | Zajac: Zając | Nguyen: Nguyễn |
Tran: Trần | Pham: Phạm | Hoang: Hoàng | Serban: Șerban |
Bronte: Brontë | Dominguez: Domínguez | Agnes: Agnès | Helene: Hélène | Eloise: Éloïse
""")

# Similar-name pairs for twins.
TWIN_PAIRS = _table("""
Jack: James | James: Jack | Ella: Emma | Emma: Ella | Hassan: Hussain | Hussain: Hassan |
Hasan: Husain | Jayden: Jordan | Jordan: Jayden | Lily: Lucy | Lucy: Lily | Ryan: Rhys |
Leo: Luca | Mia: Maya | Maya: Mia | Isaac: Isaiah | Isaiah: Isaac | Zara: Zoe | Zoe: Zara |
Sophie: Sarah | Kyle: Kane | Alfie: Archie | Archie: Alfie | Olivia: Sophia | Daniel: David |
David: Daniel | Adam: Aidan | Amir: Amin | Aisha: Amina | Amina: Aisha | Charlie: Charlotte |
Charlotte: Charlie | Oliver: Olivia | Louis: Louise | Alexander: Alexandra | Harry: Henry |
Fatima: Fadumo | Hodan: Hibo | Ruby: Rosie | Rosie: Ruby | Ethan: Evan | Mason: Max
""")

# QWERTY adjacency for keyboard typos.
_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
_OFFS = [0.0, 0.25, 0.75]
_POS = {ch: (r, c + _OFFS[r]) for r, row in enumerate(_ROWS) for c, ch in enumerate(row)}
KEY_NEIGHBOURS = {
    a: [b for b, (rb, cb) in _POS.items()
        if b != a and abs(rb - ra) <= 1 and abs(cb - ca) <= 1.0]
    for a, (ra, ca) in _POS.items()
}
VOWELS = "aeiou"
# Phonetically plausible respellings (on lower case).
PHONETIC = [("ph", "f"), ("f", "ph"), ("ck", "k"), ("c", "k"), ("k", "c"), ("ie", "y"),
            ("y", "ie"), ("ey", "y"), ("ee", "ea"), ("ea", "ee"), ("ou", "ow"), ("ow", "ou"),
            ("s", "z"), ("z", "s"), ("ai", "ay"), ("ay", "ai"), ("tt", "t"), ("ll", "l"),
            ("nn", "n"), ("mm", "m"), ("rr", "r"), ("ss", "s"), ("th", "t"), ("i", "y"),
            ("y", "i"), ("ei", "ie"), ("ie", "ei"), ("w", "v"), ("v", "w"), ("j", "y"),
            ("kh", "k"), ("q", "k"), ("oo", "u"), ("u", "oo"), ("ee", "i"), ("a", "e"),
            ("e", "a"), ("son", "sen"), ("sh", "ch"), ("x", "ks"), ("dh", "d")]

# ---------------------------------------------------------------------------
# Population model
# ---------------------------------------------------------------------------

@dataclass
class Person:
    pid: int = 0
    hh: int = 0
    sex: str = "F"
    dob: dt.date = REF_DATE
    forename: str = ""
    surname: str = ""
    alt_surnames: list = field(default_factory=list)
    group: str = "british"
    postcode: str = ""
    prev_postcodes: list = field(default_factory=list)
    next_postcode: str | None = None
    nhs: str | None = None
    pnc: str | None = None
    twin_of: "Person | None" = None
    namesake_of: "Person | None" = None
    selected: bool = False
    person_id: str = ""

    def age_on(self, d: dt.date) -> int:
        return d.year - self.dob.year - ((d.month, d.day) < (self.dob.month, self.dob.day))


def era_of(year: int) -> str:
    return "old" if year < 1965 else ("mid" if year < 1995 else "new")


def gender_surname(name: str, sex: str) -> str:
    if sex != "F":
        return name
    for m, f in (("dzki", "dzka"), ("cki", "cka"), ("ski", "ska")):
        if name.endswith(m):
            return name[: -len(m)] + f
    return name


def masculine_surname(name: str) -> str:
    for m, f in (("dzki", "dzka"), ("cki", "cka"), ("ski", "ska")):
        if name.endswith(f):
            return name[: -len(f)] + m
    return name


class Population:
    """Households and people (truth)."""

    def __init__(self, rng: random.Random, n_people: int):
        self.rng = rng
        self.n = n_people
        self.households: list[list[Person]] = []
        self.people: list[Person] = []
        self.used_nhs: set[str] = set()
        self.used_pnc: set[str] = set()
        self._build_postcode_pools()

    # -- postcodes --------------------------------------------------------
    def _build_postcode_pools(self):
        rng = self.rng
        total = max(60, self.n // 5)
        self.pools: dict[str, list[str]] = {}
        self.pool_dists: dict[str, Dist] = {}
        wsum = sum(BOROUGH_OUTWARDS.values())
        for out, w in BOROUGH_OUTWARDS.items():
            k = max(8, round(total * w / wsum))
            seen, codes = set(), []
            while len(codes) < k:
                inw = random_inward(rng)
                if inw not in seen:
                    seen.add(inw)
                    codes.append(f"{out} {inw}")
            self.pools[out] = codes
            # a few postcodes are big estates / blocks of flats: lognormal sizes
            self.pool_dists[out] = Dist(codes, [rng.lognormvariate(0.0, 0.9) for _ in codes])
        self.outward_dist = Dist.of(BOROUGH_OUTWARDS)

    def borough_postcode(self, avoid: str | None = None) -> str:
        for _ in range(20):
            pc = self.pool_dists[self.outward_dist.draw(self.rng)].draw(self.rng)
            if pc != avoid:
                return pc
        return pc

    def other_postcode(self) -> str:
        return f"{self.rng.choice(OTHER_OUTWARDS)} {random_inward(self.rng)}"

    def some_other_address(self, current: str) -> str:
        return self.borough_postcode(avoid=current) if self.rng.random() < 0.55 else self.other_postcode()

    def address_history(self, current: str):
        rng = self.rng
        n_prev = Dist.of({1: 0.6, 2: 0.3, 3: 0.1}).draw(rng)
        prev, last = [], current
        for _ in range(n_prev):
            last = self.some_other_address(last)
            prev.append(last)
        nxt = self.some_other_address(current) if rng.random() < 0.20 else None
        return prev, nxt

    # -- names ------------------------------------------------------------
    def surname(self, group: str, sex: str = "M") -> str:
        rng, g = self.rng, GROUPS[group]
        if g.british_surnames and rng.random() < g.british_surnames:
            return self.surname("british", sex)
        if g.tail and rng.random() < g.tail[0]:
            name = rng.choice(g.tail[1]) + rng.choice(g.tail[2])
        else:
            name = _SURNAME_DISTS[group].draw(rng)
        if g.gendered:
            name = gender_surname(name, sex)
        return name

    def forename(self, group: str, sex: str, birth_year: int) -> str:
        rng, g = self.rng, GROUPS[group]
        if group == "british" or rng.random() < g.british_forenames:
            # fashions blur at cohort edges: sometimes use the neighbouring cohort
            year = birth_year + (rng.choice((-12, 12)) if rng.random() < 0.25 else 0)
            return _FORENAME_DISTS[("british", sex, era_of(year))].draw(rng)
        return _FORENAME_DISTS[(group, sex)].draw(rng)

    def double_barrel(self, a: str, b: str) -> str:
        if a == b or is_compound(a) or is_compound(b):
            return a
        return f"{a}-{b}"

    def dob_for_age(self, age: float) -> dt.date:
        age = min(max(age, 0.0), 90.99)
        d = REF_DATE - dt.timedelta(days=int(age * 365.2425))
        return max(d, dt.date(REF_DATE.year - 91, REF_DATE.month, 1))

    def adult(self, group: str, sex: str, age: float) -> Person:
        rng = self.rng
        p = Person(sex=sex, group=group, dob=self.dob_for_age(age))
        p.forename = self.forename(group, sex, p.dob.year)
        p.surname = self.surname(group, sex)
        if rng.random() < 0.008:                                   # inherited double-barrelled name
            p.surname = self.double_barrel(p.surname, self.surname(group, sex))
        if rng.random() < 0.03:                                    # deed poll / earlier name
            p.alt_surnames.append(self.surname(group, sex))
        return p

    def apply_overrides(self, p: Person):
        """Begum / Kaur / Singh style surnames for adults (family name kept as history)."""
        if p.age_on(REF_DATE) < 16:
            return
        g = GROUPS[p.group]
        table = g.female_override if p.sex == "F" else g.male_override
        u, acc = self.rng.random(), 0.0
        for name, prob in table.items():
            acc += prob
            if u < acc:
                if p.surname != name:
                    p.alt_surnames.append(p.surname)
                    p.surname = name
                return

    # -- households -------------------------------------------------------
    def household(self) -> list[Person]:
        rng = self.rng
        group = GROUP_DIST.draw(rng)
        kind = Dist.of({"single": 0.30, "couple": 0.20, "couple_kids": 0.22,
                        "lone_parent": 0.12, "multigen": 0.06, "sharers": 0.10}).draw(rng)
        members: list[Person] = []
        if kind == "single":
            age = rng.triangular(18, 65, 28) if rng.random() < 0.7 else rng.uniform(60, 90)
            sex = "M" if rng.random() < 0.5 else "F"
            p = self.adult(group, sex, age)
            if sex == "F" and age > 30 and rng.random() < 0.20:   # divorced / widowed: other name
                p.alt_surnames.append(self.surname(group, "F"))
            members.append(p)
        elif kind == "sharers":
            for _ in range(Dist.of({2: 0.5, 3: 0.35, 4: 0.15}).draw(rng)):
                g = group if rng.random() < 0.6 else GROUP_DIST.draw(rng)
                members.append(self.adult(g, "M" if rng.random() < 0.5 else "F",
                                          rng.uniform(19, 40)))
        else:
            if kind == "lone_parent":
                lone_sex = "F" if rng.random() < 0.9 else "M"
                parents = [self.adult(group, lone_sex, rng.uniform(18, 55))]
                mother = parents[0] if lone_sex == "F" else None
                father = parents[0] if lone_sex == "M" else None
            else:
                a_age = rng.uniform(22, 85) if kind == "couple" else rng.uniform(22, 55)
                same_sex = rng.random() < 0.03
                g2 = group if rng.random() < 0.85 else GROUP_DIST.draw(rng)
                if same_sex:
                    s = "M" if rng.random() < 0.5 else "F"
                    parents = [self.adult(group, s, a_age),
                               self.adult(g2, s, a_age + rng.uniform(-6, 6))]
                    mother = parents[0] if s == "F" else None
                    father = parents[0] if s == "M" else None
                else:
                    father = self.adult(group, "M", a_age + rng.uniform(-1, 6))
                    mother = self.adult(g2, "F", a_age)
                    parents = [father, mother]
                    if rng.random() < 0.60:        # married, took the husband's name
                        mother.alt_surnames.append(mother.surname)
                        fam = masculine_surname(father.surname)
                        mother.surname = gender_surname(fam, "F") if GROUPS[mother.group].gendered \
                            or GROUPS[father.group].gendered else fam
                    elif rng.random() < 0.04:      # he took hers / both hyphenated
                        father.alt_surnames.append(father.surname)
                        father.surname = mother.surname
            members.extend(parents)
            if kind in ("couple_kids", "lone_parent", "multigen"):
                members.extend(self.children(parents, mother, father, kind))
            if kind == "multigen" and len(members) < 6:
                src = rng.choice(parents)
                g_age = src.age_on(REF_DATE) + rng.uniform(22, 38)
                if g_age <= 90:
                    gp = self.adult(src.group, "F" if rng.random() < 0.6 else "M", g_age)
                    fam = src.alt_surnames[0] if (src is mother and src.alt_surnames) else src.surname
                    gp.alt_surnames = [gp.surname] if gp.sex == "F" else []
                    gp.surname = gender_surname(masculine_surname(fam), gp.sex) \
                        if GROUPS[gp.group].gendered else fam
                    members.append(gp)
        for p in members:
            self.apply_overrides(p)
        return members[:6]

    def children(self, parents, mother, father, kind) -> list[Person]:
        rng = self.rng
        ref_parent = mother or parents[0]
        p_age = ref_parent.age_on(REF_DATE)
        max_child_age = min(25, p_age - 18)
        if max_child_age < 0:
            return []
        n = Dist.of({1: 0.38, 2: 0.40, 3: 0.16, 4: 0.06}).draw(rng)
        kids: list[Person] = []
        lone = len(parents) == 1
        absent_father_surname = None
        if lone:
            absent_father_surname = self.surname(ref_parent.group if rng.random() < 0.7
                                                 else GROUP_DIST.draw(rng), "M")
        ages = sorted((rng.uniform(0, max_child_age + 0.99) for _ in range(n)), reverse=True)
        for age in ages:
            births = 2 if rng.random() < 0.015 else 1
            dob = self.dob_for_age(age)
            first = None
            for b in range(births):
                if len(parents) + len(kids) >= 6:
                    break
                sex = "M" if rng.random() < 0.512 else "F"
                group = rng.choice(parents).group
                c = Person(sex=sex, group=group, dob=dob)
                # surname
                if lone:
                    u = rng.random()
                    if u < 0.55:
                        c.surname = ref_parent.surname
                        if rng.random() < 0.25:
                            c.alt_surnames.append(absent_father_surname)
                    elif u < 0.95:
                        c.surname = absent_father_surname
                        if rng.random() < 0.25:
                            c.alt_surnames.append(ref_parent.surname)
                    else:
                        c.surname = self.double_barrel(ref_parent.surname, absent_father_surname)
                    if u >= 0.97:
                        c.surname = ref_parent.surname
                elif mother and father and masculine_surname(mother.surname) != masculine_surname(father.surname):
                    u = rng.random()
                    if u < 0.74:
                        c.surname = father.surname
                    elif u < 0.90:
                        c.surname = mother.surname
                    else:
                        a, b2 = (mother.surname, father.surname) if rng.random() < 0.5 \
                            else (father.surname, mother.surname)
                        c.surname = self.double_barrel(a, b2)
                else:
                    c.surname = (father or parents[0]).surname
                if GROUPS[c.group].gendered or any(GROUPS[p.group].gendered for p in parents):
                    c.surname = gender_surname(masculine_surname(c.surname), sex)
                # forename
                if b == 1 and first is not None:
                    c.forename = self.twin_forename(first, c)
                    c.twin_of = first
                else:
                    same = [p for p in parents if p.sex == sex and p.surname == c.surname]
                    if same and rng.random() < (0.04 if sex == "M" else 0.015):
                        c.forename = same[0].forename
                        c.namesake_of = same[0]
                    else:
                        c.forename = self.forename(group, sex, dob.year)
                first = first or c
                kids.append(c)
        return kids

    def twin_forename(self, first: Person, c: Person) -> str:
        rng = self.rng
        if c.group == "west_african" and first.namesake_of is None and \
                (first.forename in ("Taiwo", "Kehinde") or rng.random() < 0.3):
            if first.forename not in ("Taiwo", "Kehinde"):
                first.forename = "Taiwo"
            return "Kehinde" if first.forename == "Taiwo" else "Taiwo"
        u = rng.random()
        if u < 0.25 and first.forename in TWIN_PAIRS:
            return TWIN_PAIRS[first.forename][0]
        for _ in range(30):
            name = self.forename(c.group, c.sex, c.dob.year)
            if name == first.forename:
                continue
            if u < 0.6 and name[0] != first.forename[0]:
                continue
            return name
        for _ in range(30):
            name = self.forename(c.group, c.sex, c.dob.year)
            if name != first.forename:
                return name
        return first.forename + "a" if c.sex == "F" else first.forename + "o"

    # -- selection: who the agencies hold records about ------------------
    @staticmethod
    def selection_weight(age: int) -> float:
        # serious-violence data: young people are over-represented
        for top, w in ((4, 0.5), (9, 0.7), (14, 1.8), (19, 2.6), (24, 2.4), (30, 1.8),
                       (40, 1.0), (55, 0.7), (64, 0.6), (200, 0.8)):
            if age <= top:
                return w
        return 0.5

    def build(self):
        rng = self.rng
        hid = 0
        while len(self.people) < self.n:
            members = self.household()
            for p in members:
                p.selected = rng.random() < min(0.95, 0.35 * self.selection_weight(p.age_on(REF_DATE)))
            if not any(p.selected for p in members):
                continue
            for p in members:
                if not p.selected:
                    linked = (p.twin_of and p.twin_of.selected) or \
                             any(q.twin_of is p and q.selected for q in members) or \
                             (p.namesake_of and p.namesake_of.selected) or \
                             any(q.namesake_of is p and q.selected for q in members)
                    p.selected = rng.random() < (0.85 if linked else 0.30)
            chosen = [p for p in members if p.selected][: self.n - len(self.people)]
            hid += 1
            current = self.borough_postcode()
            shared_prev, shared_next = self.address_history(current)
            for p in chosen:
                p.hh = hid
                p.postcode = current
                if p.age_on(REF_DATE) < 18 or rng.random() < 0.85:
                    p.prev_postcodes, p.next_postcode = list(shared_prev), shared_next
                else:
                    p.prev_postcodes, p.next_postcode = self.address_history(current)
                if rng.random() < 0.985:                       # registered with a GP
                    p.nhs = self.new_nhs()
                p.pid = len(self.people) + 1
                p.person_id = f"person-{p.pid:06d}"
                self.people.append(p)
            self.households.append(chosen)

    def new_nhs(self) -> str:
        while True:
            n = random_nhs(self.rng)
            if n not in self.used_nhs:
                self.used_nhs.add(n)
                return n

    def new_pnc(self, p: Person, first_contact: dt.date) -> str:
        rng = self.rng
        lo = max(p.dob.year + 10, 1995)
        hi = max(lo, min(first_contact.year, REF_DATE.year))
        while True:
            s = pnc_id(rng.randint(lo, hi) % 100, rng.randrange(1, 10**7))
            if s not in self.used_pnc:
                self.used_pnc.add(s)
                return s


# ---------------------------------------------------------------------------
# Record plans (structure; drawn from the population stream, independent of rates)
# ---------------------------------------------------------------------------

@dataclass
class Plan:
    person: Person
    source: str
    when: dt.date
    holds_dob: bool
    holds_postcode: bool
    holds_nhs: bool
    holds_pnc: bool
    index: int = 0


def agency_weights(age: int) -> dict:
    for top, w in AGENCY_BY_AGE:
        if age <= top:
            return w
    return AGENCY_BY_AGE[-1][1]


def plan_records(pop: Population) -> list[Plan]:
    rng = pop.rng
    k_dist = Dist.of(RECORDS_PER_PERSON)
    plans: list[Plan] = []
    window_start = REF_DATE - dt.timedelta(days=RECORD_WINDOW_DAYS)
    for p in pop.people:
        k = k_dist.draw(rng)
        start = max(window_start, p.dob)
        span = (REF_DATE - start).days
        mine: list[tuple[dt.date, str]] = []
        for _ in range(k):
            when = start + dt.timedelta(days=rng.randint(0, max(span, 0)))
            age = p.age_on(when)
            w = agency_weights(age)
            used = [a for _, a in mine if a in w]
            if used and rng.random() < P_REPEAT_AGENCY:
                src = rng.choice(used)
            else:
                src = Dist.of(w).draw(rng)
            mine.append((when, src))
        # Who has a PNC record: anyone supervised by probation / most YOT cases /
        # a share of people the police dealt with (suspects, not victims or witnesses).
        srcs = {s for _, s in mine}
        young_male = p.sex == "M" and 12 <= p.age_on(REF_DATE) <= 40
        p_pnc = 0.0
        if "probation" in srcs:
            p_pnc = 0.97
        elif "youth_justice" in srcs:
            p_pnc = 0.70
        elif "police" in srcs:
            p_pnc = 0.55 if young_male else 0.30
        if p.age_on(REF_DATE) >= 11 and rng.random() < p_pnc:
            first = min([w for w, s in mine if s in ("police", "probation", "youth_justice")],
                        default=REF_DATE)
            p.pnc = pop.new_pnc(p, first)
        for when, src in mine:
            ag = AGENCIES[src]
            plans.append(Plan(
                person=p, source=src, when=when,
                holds_dob=rng.random() < ag.p_dob,
                holds_postcode=rng.random() < ag.p_postcode,
                holds_nhs=p.nhs is not None and rng.random() < ag.p_nhs,
                holds_pnc=p.pnc is not None and rng.random() < ag.p_pnc,
            ))
    rng.shuffle(plans)                    # record order leaks nothing about who is who
    for i, pl in enumerate(plans):
        pl.index = i
    return plans


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

def _case_like(template: str, ch: str) -> str:
    return ch.upper() if template.isupper() else ch.lower()


def one_edit(name: str, rng: random.Random) -> str:
    """One typing error: keyboard/phonetic substitution, insertion, deletion or
    transposition.  The first letter is hit less often than the rest."""
    letters = [i for i, ch in enumerate(name) if ch.isalpha()]
    if len(letters) < 2:
        return name
    weights = [0.25 if i == letters[0] else 1.0 for i in letters]
    op = Dist.of({"sub": 0.32, "phon": 0.16, "ins": 0.17, "del": 0.18, "trans": 0.17}).draw(rng)
    pos = Dist(letters, weights).draw(rng)
    ch = name[pos]
    low = ch.lower()
    if op == "phon":
        lname = name.lower()
        options = []
        for a, b in PHONETIC:
            start = 1
            while True:
                j = lname.find(a, start)
                if j < 0:
                    break
                options.append((j, a, b))
                start = j + 1
        if options:
            j, a, b = rng.choice(options)
            seg = name[j:j + len(a)]
            rep = b.upper() if seg.isupper() else b
            return name[:j] + rep + name[j + len(a):]
        op = "sub"
    if op == "sub":
        if low in VOWELS and rng.random() < 0.35:
            new = rng.choice([v for v in VOWELS if v != low])
        else:
            new = rng.choice(KEY_NEIGHBOURS.get(low) or list("etaoinsr"))
        return name[:pos] + _case_like(ch, new) + name[pos + 1:]
    if op == "ins":
        if rng.random() < 0.5:
            new = low
        else:
            new = rng.choice(KEY_NEIGHBOURS.get(low) or [low])
        tmpl = ch if ch.isupper() and name.isupper() else "a"
        return name[:pos + 1] + _case_like(tmpl, new) + name[pos + 1:]
    if op == "del":
        doubles = [i for i in letters[1:] if name[i].lower() == name[i - 1].lower()]
        if doubles and rng.random() < 0.4:
            pos = rng.choice(doubles)
        out = name[:pos] + name[pos + 1:]
        if pos == 0 and out:
            out = out[0].upper() + out[1:]
        return out
    # transposition of adjacent letters
    pairs = [i for i in letters if i + 1 < len(name) and name[i + 1].isalpha()
             and name[i].lower() != name[i + 1].lower()]
    if not pairs:
        return name
    i = rng.choice(pairs)
    a, b = name[i], name[i + 1]
    if i == 0:
        a, b = a.lower(), b.upper()
    return name[:i] + b + a + name[i + 2:]


def typo(name: str, rng: random.Random) -> str:
    edits = 2 if rng.random() < 0.10 else 1
    out = name
    for _ in range(edits):
        for _ in range(6):
            cand = one_edit(out, rng)
            if cand != out and cand.strip():
                out = cand
                break
    return out


def surname_typo(name: str, rng: random.Random) -> str:
    if name in SURNAME_VARIANTS and rng.random() < 0.35:
        return rng.choice(SURNAME_VARIANTS[name])
    return typo(name, rng)


def is_compound(surname: str) -> bool:
    return "-" in surname or " " in surname


def hyphen_variant(surname: str, rng: random.Random) -> str:
    parts = re.split(r"[- ]", surname)
    if len(parts) < 2:
        return surname
    first, rest = parts[0], parts[1:]
    if first in PARTICLES:                                   # De Souza, El Amrani, Al-Masri
        tail = " ".join(rest)
        joined = first + "".join(rest)
        return Dist.of({
            tail: 0.45,
            joined: 0.20,
            joined.capitalize(): 0.10,
            (first + " " + tail) if "-" in surname else (first + "-" + tail): 0.25,
        }).draw(rng)
    sep_swapped = surname.replace("-", " ") if "-" in surname else surname.replace(" ", "-")
    return Dist.of({
        parts[0]: 0.35,
        parts[-1]: 0.35,
        sep_swapped: 0.20,
        "".join(parts): 0.10,
    }).draw(rng)


def valid_date(y: int, m: int, d: int) -> dt.date | None:
    try:
        x = dt.date(y, m, d)
    except ValueError:
        return None
    return x if EARLIEST_DOB <= x <= REF_DATE else None


def dob_digit(d: dt.date, rng: random.Random) -> dt.date | None:
    s = f"{d.year:04d}{d.month:02d}{d.day:02d}"
    cands, weights = [], []
    for i in range(8):
        for digit in "0123456789":
            if digit == s[i]:
                continue
            t = s[:i] + digit + s[i + 1:]
            x = valid_date(int(t[:4]), int(t[4:6]), int(t[6:]))
            if x:
                cands.append(x)
                weights.append(0.1 if i < 2 else 1.0)
    return Dist(cands, weights).draw(rng) if cands else None


def dob_year_off(d: dt.date, rng: random.Random) -> dt.date | None:
    deltas = [1, -1] if rng.random() < 0.7 else [10, -10]
    rng.shuffle(deltas)
    for delta in deltas:
        x = valid_date(d.year + delta, d.month, d.day)
        if x:
            return x
    return None


def postcode_typo(pc: str, rng: random.Random) -> str | None:
    out, inw = pc.split(" ")
    raw = out + inw
    n = len(raw)
    positions = list(range(n))
    weights = [0.4 if i == 0 else (1.5 if i >= n - 3 else 1.0) for i in positions]
    for _ in range(20):
        i = Dist(positions, weights).draw(rng)
        c = raw[i]
        new = rng.choice("0123456789") if c.isdigit() else rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        if new == c:
            continue
        t = raw[:i] + new + raw[i + 1:]
        cand = t[:-3] + " " + t[-3:]
        if valid_postcode(cand):
            return cand
    return None


def format_noise(forename: str, surname: str, rng: random.Random) -> tuple[str, str]:
    """Case, whitespace, apostrophe and accent noise.  Not a real error: a
    normaliser (case-fold, NFD + strip marks, drop non-letters) removes it."""
    ops = ["lower_sur", "lower_fore", "lower_both", "upper_both", "spaces"]
    if "'" in surname or "'" in forename:
        ops += ["apostrophe"] * 4
    if forename in ACCENTS or surname in ACCENTS:
        ops += ["accent"] * 4
    for _ in range(2 if rng.random() < 0.2 else 1):
        op = rng.choice(ops)
        if op == "lower_sur":
            surname = surname.lower()
        elif op == "lower_fore":
            forename = forename.lower()
        elif op == "lower_both":
            forename, surname = forename.lower(), surname.lower()
        elif op == "upper_both":
            forename, surname = forename.upper(), surname.upper()
        elif op == "spaces":
            which = rng.random()
            def pad(s):
                if not s:
                    return s
                v = rng.random()
                if v < 0.4:
                    return s + " "
                if v < 0.7:
                    return " " + s
                if " " in s.strip():
                    return s.replace(" ", "  ", 1)
                return s + "  "
            if which < 0.5:
                surname = pad(surname)
            else:
                forename = pad(forename)
        elif op == "apostrophe":
            rep = Dist.of({"": 0.6, " ": 0.2, "\u2019": 0.2}).draw(rng)
            surname = surname.replace("'", rep)
            forename = forename.replace("'", rep)
        elif op == "accent":
            if forename in ACCENTS:
                forename = ACCENTS[forename][0]
            if surname in ACCENTS:
                surname = ACCENTS[surname][0]
    return forename, surname


def format_dob(d: dt.date | None, fmt: str) -> str:
    if d is None:
        return ""
    return f"{d.day:02d}/{d.month:02d}/{d.year:04d}" if fmt == "dmy" else d.isoformat()


# ---------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------

class Stats:
    def __init__(self):
        self.eligible = {c: 0 for c in ERROR_CLASSES}
        self.applied = {c: 0 for c in ERROR_CLASSES}
        self.sources = {s: 0 for s in SOURCES}


def seeded(seed: int, *parts) -> random.Random:
    return random.Random(":".join(["ukgen", str(seed), *map(str, parts)]))


def make_record(pl: Plan, pop: Population, rates: dict, seed: int, stats: Stats) -> list[str]:
    p = pl.person
    decide = seeded(seed, "decide", pl.index)
    u = {c: decide.random() for c in ERROR_CLASSES}     # one draw per class, always
    rng = seeded(seed, "detail", pl.index)

    def hit(cls: str) -> bool:
        stats.eligible[cls] += 1
        return u[cls] < rates[cls]

    def applied(cls: str):
        stats.applied[cls] += 1

    ag = AGENCIES[pl.source]
    forename = p.forename
    surname = p.surname
    dob: dt.date | None = p.dob if pl.holds_dob else None
    postcode: str | None = p.postcode if pl.holds_postcode else None
    nhs = p.nhs if pl.holds_nhs else None
    pnc = p.pnc if pl.holds_pnc else None

    # -- names --
    if p.alt_surnames and hit("surname_change"):
        surname = rng.choice(p.alt_surnames)
        applied("surname_change")
    if is_compound(surname) and hit("hyphen_part"):
        new = hyphen_variant(surname, rng)
        if new != surname:
            surname = new
            applied("hyphen_part")
    if forename in NICKNAMES and hit("forename_nickname"):
        forename = rng.choice(NICKNAMES[forename])
        applied("forename_nickname")
    if sum(ch.isalpha() for ch in forename) >= 2 and hit("forename_typo"):
        new = typo(forename, rng)
        if new != forename:
            forename = new
            applied("forename_typo")
    if sum(ch.isalpha() for ch in surname) >= 2 and hit("surname_typo"):
        new = surname_typo(surname, rng)
        if new != surname:
            surname = new
            applied("surname_typo")
    if forename and hit("initial_only"):
        forename = forename[0] + ("." if rng.random() < 0.2 else "")
        applied("initial_only")
    if forename and surname and hit("name_swap"):
        forename, surname = surname, forename
        applied("name_swap")

    # -- date of birth --
    if dob is not None:
        if hit("dob_day_off"):
            dob2 = dob + dt.timedelta(days=rng.choice((-1, 1)))
            if dob2 <= REF_DATE:
                dob = dob2
                applied("dob_day_off")
        if hit("dob_digit"):
            x = dob_digit(dob, rng)
            if x:
                dob = x
                applied("dob_digit")
        if dob.day <= 12 and dob.day != dob.month and hit("dob_swap"):
            x = valid_date(dob.year, dob.day, dob.month)
            if x:
                dob = x
                applied("dob_swap")
        if hit("dob_year_off"):
            x = dob_year_off(dob, rng)
            if x:
                dob = x
                applied("dob_year_off")
        if (dob.month, dob.day) != (1, 1) and hit("dob_placeholder"):
            dob = dt.date(dob.year, 1, 1)
            applied("dob_placeholder")

    # -- address --
    if postcode is not None:
        if hit("moved"):
            older = p.prev_postcodes
            if p.next_postcode and (not older or rng.random() < 0.3):
                postcode = p.next_postcode
            elif older:
                # the most recent previous address is the likeliest stale one
                postcode = older[0] if rng.random() < 0.65 else rng.choice(older)
            applied("moved")
        if hit("postcode_typo"):
            x = postcode_typo(postcode, rng)
            if x:
                postcode = x
                applied("postcode_typo")

    # -- NHS number --
    if nhs is not None and hit("nhs_wrong"):
        family = [q.nhs for q in pop.households[p.hh - 1] if q is not p and q.nhs]
        if family and rng.random() < 0.4:
            nhs = rng.choice(family)             # a relative's number on the wrong record
        else:
            while True:
                x = random_nhs(rng)
                if x != nhs:
                    nhs = x
                    break
        applied("nhs_wrong")

    # -- missing values --
    if forename and hit("forename_missing"):
        forename = ""
        applied("forename_missing")
    if surname and hit("surname_missing"):
        surname = ""
        applied("surname_missing")
    if dob is not None and hit("dob_missing"):
        dob = None
        applied("dob_missing")
    if postcode is not None and hit("postcode_missing"):
        postcode = None
        applied("postcode_missing")
    if pl.source in NHS_MISSING_SOURCES and nhs is not None and hit("nhs_missing"):
        nhs = None
        applied("nhs_missing")

    # -- presentation: agency conventions, then cosmetic noise --
    if ag.upper_surname:
        surname = surname.upper()
    if hit("format_noise"):
        f2, s2 = format_noise(forename, surname, rng)
        if (f2, s2) != (forename, surname):
            forename, surname = f2, s2
            applied("format_noise")
    pc_out = postcode or ""
    if postcode is not None and hit("postcode_format"):
        v = rng.random()
        pc_out = postcode.lower() if v < 0.4 else (postcode.replace(" ", "") if v < 0.8
                                                   else postcode.replace(" ", "  "))
        applied("postcode_format")

    stats.sources[pl.source] += 1
    return [f"ukgen-{pl.index + 1:06d}", pl.source, p.person_id, forename, surname,
            format_dob(dob, ag.dob_format), pc_out, nhs or "", pnc or ""]


def effective_rates(overrides: dict[str, float], scale: float) -> dict[str, float]:
    rates = {c: r for c, (r, _) in ERROR_CLASSES.items()}
    rates.update(overrides)
    return {c: min(1.0, max(0.0, r * scale)) for c, r in rates.items()}


def generate(n_people: int, seed: int, rates: dict[str, float]):
    pop = Population(seeded(seed, "population"), n_people)
    pop.build()
    plans = plan_records(pop)
    stats = Stats()
    rows = [make_record(pl, pop, rates, seed, stats) for pl in plans]
    return pop, rows, stats


def write_csv(path: str, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(HEADER)
        w.writerows(rows)


def summary_line(pop: Population, rows, stats: Stats, seed: int) -> str:
    src = " ".join(f"{s}={n}" for s, n in stats.sources.items())
    err = " ".join(f"{c}={n}" for c, n in stats.applied.items())
    return (f"ukgen seed={seed} people={len(pop.people)} households={len(pop.households)} "
            f"records={len(rows)} | sources: {src} | errors: {err}")


# ---------------------------------------------------------------------------
# Self-test
# ---------------------------------------------------------------------------

def parse_dob(s: str) -> dt.date | None:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        return dt.date(int(s[:4]), int(s[5:7]), int(s[8:]))
    if re.fullmatch(r"\d{2}/\d{2}/\d{4}", s):
        return dt.date(int(s[6:]), int(s[3:5]), int(s[:2]))
    raise ValueError(f"bad dob format {s!r}")


def self_test() -> int:
    n, seed = 4000, 20240611
    rates = effective_rates({"postcode_format": 0.05}, 1.0)
    failures = []

    def check(cond, msg):
        if not cond:
            failures.append(msg)

    # hand-checked constants
    check(valid_nhs("9434765919"), "NHS check digit: known-good 9434765919 rejected")
    check(not valid_nhs("9434765918"), "NHS check digit: bad number accepted")
    check(pnc_id(12, 3456789) == "12/3456789" + PNC_LETTERS[(12 * 10**7 + 3456789) % 23], "pnc_id")
    for good in ("SW10 9NH", "W8 5SA", "W10 6DZ", "SW1X 7LY", "W1H 2AB", "EC1V 4PW", "M1 1AE"):
        check(valid_postcode(good), f"postcode {good} should be valid")
    for bad in ("QW1 1AA", "WI1 1AA", "W1L 1AA", "SW1Z 1AA", "W10 9CA", "W10 9AI", "SW109NH"):
        check(not valid_postcode(bad), f"postcode {bad} should be invalid")

    with tempfile.TemporaryDirectory() as tmp:
        pop, rows, stats = generate(n, seed, rates)
        path = os.path.join(tmp, "records.csv")
        write_csv(path, rows)
        h1 = hashlib.sha256(open(path, "rb").read()).hexdigest()
        pop2, rows2, _ = generate(n, seed, rates)
        write_csv(path, rows2)
        h2 = hashlib.sha256(open(path, "rb").read()).hexdigest()
        check(h1 == h2, "not deterministic for a fixed seed")
        # nesting: a higher error scale keeps the same records and people
        _, rows3, _ = generate(n, seed, effective_rates({}, 2.0))
        check([r[:3] for r in rows3] == [r[:3] for r in rows], "population changes with the error scale")

        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            data = list(reader)
    check(header == HEADER, f"header {header}")
    check(len(pop.people) == n, f"people {len(pop.people)} != {n}")
    ids = [r[0] for r in data]
    check(len(set(ids)) == len(ids), "record ids not unique")
    by_person: dict[str, int] = {}
    nhs_held = {s: [0, 0] for s in SOURCES}
    bad_nhs = bad_pnc = bad_pc = bad_dob = bad_src = 0
    for r in data:
        rec = dict(zip(HEADER, r))
        by_person[rec["person_id"]] = by_person.get(rec["person_id"], 0) + 1
        bad_src += rec["source"] not in SOURCES
        if rec["nhs_number"]:
            bad_nhs += not (valid_nhs(rec["nhs_number"]) and rec["nhs_number"].startswith("999"))
        nhs_held[rec["source"]][0] += bool(rec["nhs_number"])
        nhs_held[rec["source"]][1] += 1
        if rec["pnc_id"]:
            bad_pnc += not valid_pnc(rec["pnc_id"])
        if rec["postcode"]:
            canon = re.sub(r"\s+", "", rec["postcode"].upper())
            bad_pc += not valid_postcode(canon[:-3] + " " + canon[-3:])
        if rec["dob"]:
            try:
                d = parse_dob(rec["dob"])
                bad_dob += not (EARLIEST_DOB <= d <= REF_DATE)
            except ValueError:
                bad_dob += 1
    check(bad_src == 0, f"{bad_src} bad sources")
    check(bad_nhs == 0, f"{bad_nhs} NHS numbers with a bad check digit")
    check(bad_pnc == 0, f"{bad_pnc} PNC ids with a bad check letter")
    check(bad_pc == 0, f"{bad_pc} postcodes breaking the format rules")
    check(bad_dob == 0, f"{bad_dob} invalid dates of birth")
    check(len(by_person) == n and all(1 <= k <= 6 for k in by_person.values()),
          "every person must have 1..6 records")
    # exact-format postcodes when postcode_format noise is off
    _, rows_clean, _ = generate(500, seed, effective_rates({}, 1.0))
    check(all(valid_postcode(r[6]) for r in rows_clean if r[6]), "canonical postcodes when postcode_format=0")

    print(f"self-test: {n} people, {len(data)} records, seed {seed} (postcode_format set to 0.05 to test it)")
    print(f"{'class':<18} {'configured':>10} {'observed':>9} {'applied':>8} {'eligible':>9}  check")
    for c in ERROR_CLASSES:
        e, a, r = stats.eligible[c], stats.applied[c], rates[c]
        obs = a / e if e else 0.0
        # binomial tolerance: 5 sigma + 10% relative slack for the rare
        # cases where a drawn error cannot be applied (e.g. no valid variant)
        tol = 5 * math.sqrt(max(r * (1 - r), 1e-9) / max(e, 1)) + 0.002
        ok = e < 50 or (r - obs) <= tol + 0.10 * r and (obs - r) <= tol
        check(ok, f"{c}: observed {obs:.4f} vs configured {r:.4f}")
        print(f"{c:<18} {r:>10.4f} {obs:>9.4f} {a:>8} {e:>9}  {'ok' if ok else 'FAIL'}")
    held = "  ".join(f"{s}={h / t:.0%}" for s, (h, t) in nhs_held.items() if t)
    print(f"NHS number held: {held}")
    n_hyph = sum(1 for p in pop.people if "-" in p.surname or " " in p.surname)
    twins = sum(1 for p in pop.people if p.twin_of is not None)
    namesakes = sum(1 for p in pop.people if p.namesake_of is not None)
    pnc_people = sum(1 for p in pop.people if p.pnc)
    ages = [p.age_on(REF_DATE) for p in pop.people]
    young = sum(1 for a in ages if 10 <= a <= 30) / len(ages)
    hist = {k: sum(1 for v in by_person.values() if v == k) for k in range(1, 7)}
    print(f"people: double/hyphenated surnames {n_hyph / n:.1%}, second-born twins {twins}, "
          f"named after a parent {namesakes}, with a PNC id {pnc_people / n:.1%}, aged 10-30 {young:.0%}")
    print(f"records per person: {hist}")
    check(0.015 <= n_hyph / n <= 0.06, f"double/hyphenated surname share {n_hyph / n:.3f}")
    check(twins > 0 and namesakes > 0, "need twins and children named after a parent")
    check(held.count("%") >= 5 and nhs_held["health"][0] / nhs_held["health"][1] > 0.88,
          "health should hold most NHS numbers")
    if failures:
        print("self-test FAILED:")
        for f in failures:
            print("  -", f)
        return 1
    print("self-test OK")
    return 0


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------

def parse_rate(s: str) -> tuple[str, float]:
    if "=" not in s:
        raise argparse.ArgumentTypeError(f"--rate wants CLASS=P, got {s!r}")
    c, v = s.split("=", 1)
    c = c.strip()
    if c not in ERROR_CLASSES:
        raise argparse.ArgumentTypeError(
            f"unknown error class {c!r}; known: {', '.join(ERROR_CLASSES)}")
    try:
        p = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"rate for {c} is not a number: {v!r}")
    if not 0.0 <= p <= 1.0:
        raise argparse.ArgumentTypeError(f"rate for {c} must be in [0, 1]: {p}")
    return c, p


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Independent synthetic UK population generator "
                                             "for record-linkage measurement (see UKGEN.md).")
    ap.add_argument("--people", type=int, help="number of true people (each has 1..6 records)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="output directory (records.csv is written there)")
    ap.add_argument("--error-scale", type=float, default=1.0,
                    help="multiply every error rate (after --rate) by X; capped at 1")
    ap.add_argument("--rate", type=parse_rate, action="extend", nargs="+", default=[],
                    metavar="CLASS=P",
                    help="set error classes' base rates: --rate a=0.1 b=0.2, or repeat --rate")
    ap.add_argument("--self-test", action="store_true", help="run the self-check and exit")
    ap.add_argument("--list-rates", action="store_true", help="print the error classes and exit")
    a = ap.parse_args(argv)

    if a.self_test:
        return self_test()
    if a.list_rates:
        rates = effective_rates(dict(a.rate), a.error_scale)
        for c, (d, who) in ERROR_CLASSES.items():
            print(f"{c:<18} default {d:<6} effective {rates[c]:<7.4f} eligible: {who}")
        return 0
    if not a.people or a.people < 1 or not a.out:
        ap.error("--people N (N >= 1) and --out DIR are required")
    if a.error_scale < 0:
        ap.error("--error-scale must be >= 0")
    if a.people > 400_000:
        ap.error("--people is limited to 400000 (the 999 test range holds ~909k NHS numbers)")
    rates = effective_rates(dict(a.rate), a.error_scale)
    pop, rows, stats = generate(a.people, a.seed, rates)
    os.makedirs(a.out, exist_ok=True)
    write_csv(os.path.join(a.out, "records.csv"), rows)
    print(summary_line(pop, rows, stats, a.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
