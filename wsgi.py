from vpp import create_app

app = create_app()
