from setuptools import setup, find_packages

setup(
    name="pkgtool",
    version="1.2.3",
    python_requires=">=3.8",
    packages=find_packages(),
    install_requires=[
        "requests>=2.25",  # HTTP
        'PyYAML==6.0',
        "colorama; platform_system == 'Windows'",
    ],
)
