"""The demo town 大栗港镇 and a season played in it: for trying the bot out, never for production.

`phrasebook` holds every word the demo's people type and its commands print; `town` generates the
roster; `people`, `phones` and `witness` are the season's view of the roster, its phones and what
the bot did; `reporters` and `cadres` are how 邻长, cadres and the dispatcher behave on a shared
`stage`; `clock` and `season` are the calendar of the season and its loop; `cli` is the
`grievance-bot demo` commands. The product packages never import this one (bot/cli.py only
registers the commands).
"""
